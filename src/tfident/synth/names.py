"""Name and place tables for the synthetic council: all invented or very common, none real people.

Names come in cultural groups so a family's names hang together. Within each list the
order is the frequency order: :func:`zipf_weights` gives the first names far more weight
than the last, so Smith, Jones, Khan and Mohammed are common and the tail is rare, as
in a real council's records.
"""

from __future__ import annotations

from functools import cache

SURNAMES: dict[str, tuple[str, ...]] = {
    "british": (
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
        "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
        "Lewis", "Harris", "Clarke", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
        "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James",
        "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell",
        "Kelly", "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller",
        "Cox", "Richards", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Wilkinson", "Foster", "Chapman",
        "Powell", "Webb", "Rogers", "Gray", "Mason", "Hunt", "Holmes", "Palmer", "Lloyd", "Barker",
        "O'Brien", "O'Connor", "McDonald", "MacKenzie", "Fletcher", "Dixon", "Pearson", "Gibson", "Stevens", "Hart",
        "Pickering", "Ashworth", "Butterworth", "Entwistle", "Fairclough", "Heaton", "Ormerod", "Sutcliffe",
    ),
    "south_asian": (
        "Khan", "Ali", "Hussain", "Ahmed", "Begum", "Patel", "Singh", "Akhtar", "Iqbal", "Shah",
        "Rahman", "Mahmood", "Kaur", "Bibi", "Malik", "Islam", "Mirza", "Chaudhry", "Sharma", "Miah",
    ),
    "polish": (
        "Nowak", "Kowalski", "Wisniewski", "Wojcik", "Kaminski", "Lewandowski", "Zielinski", "Szymanski",
        "Dabrowski", "Kozlowski", "Mazur", "Krawczyk",
    ),
    "west_african": (
        "Okafor", "Mensah", "Adeyemi", "Okonkwo", "Boateng", "Owusu", "Adebayo", "Eze", "Asante", "Nwosu",
    ),
}  # fmt: skip

FORENAMES: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("british", "M", "adult"): (
        "David", "Paul", "Mark", "Andrew", "John", "Michael", "Stephen", "James", "Richard", "Robert",
        "Christopher", "Daniel", "Lee", "Darren", "Wayne", "Craig", "Peter", "Anthony", "Gary", "Thomas",
        "Matthew", "Jason", "Ian", "Simon", "Kevin", "Neil", "Dean", "Carl", "William", "Joseph",
        "Edward", "Nicholas", "Alexander", "Benjamin", "Jonathan", "Martin", "Shaun", "Stuart", "Keith", "Colin",
    ),
    ("british", "F", "adult"): (
        "Sarah", "Claire", "Emma", "Nicola", "Lisa", "Michelle", "Joanne", "Rebecca", "Laura", "Kelly",
        "Donna", "Karen", "Louise", "Samantha", "Victoria", "Gemma", "Helen", "Amanda", "Rachel", "Jennifer",
        "Stacey", "Jessica", "Elizabeth", "Katherine", "Susan", "Deborah", "Margaret", "Patricia", "Natalie", "Kerry",
        "Hayley", "Leanne", "Charlotte", "Danielle", "Catherine", "Julie", "Tracey", "Angela", "Jacqueline", "Dawn",
    ),
    ("british", "M", "child"): (
        "Oliver", "Jack", "Harry", "Noah", "George", "Charlie", "Jacob", "Alfie", "Leo", "Freddie",
        "Thomas", "Oscar", "James", "William", "Joshua", "Archie", "Henry", "Ethan", "Max", "Riley",
        "Mason", "Logan", "Lucas", "Samuel", "Daniel", "Dylan", "Tyler", "Kai", "Joseph", "Alexander",
        "Benjamin", "Theo", "Liam", "Jayden", "Reuben", "Callum", "Connor", "Luke", "Kieran", "Bradley",
    ),
    ("british", "F", "child"): (
        "Olivia", "Amelia", "Isla", "Ava", "Mia", "Emily", "Isabella", "Sophia", "Grace", "Lily",
        "Freya", "Ella", "Poppy", "Evie", "Charlotte", "Jessica", "Daisy", "Ruby", "Sophie", "Chloe",
        "Millie", "Phoebe", "Scarlett", "Holly", "Megan", "Lucy", "Katie", "Ellie", "Abigail", "Hannah",
        "Elizabeth", "Victoria", "Rebecca", "Erin", "Paige", "Courtney", "Jade", "Amber", "Summer", "Leah",
    ),
    ("south_asian", "M", "any"): (
        "Mohammed", "Muhammad", "Ali", "Ibrahim", "Yusuf", "Hamza", "Adam", "Zain", "Ahmed", "Imran",
        "Bilal", "Omar", "Hassan", "Tariq", "Arjun", "Rahul", "Harjit", "Gurpreet", "Zakariya", "Ayaan",
    ),
    ("south_asian", "F", "any"): (
        "Fatima", "Aisha", "Maryam", "Zainab", "Amina", "Hafsa", "Sana", "Nadia", "Priya", "Sofia",
        "Khadija", "Ruksana", "Shazia", "Nazia", "Jaspreet", "Hana", "Anaya", "Safiya", "Yasmin", "Noor",
    ),
    ("polish", "M", "any"): (
        "Jakub", "Piotr", "Tomasz", "Krzysztof", "Marcin", "Pawel", "Michal", "Kacper", "Szymon", "Adam",
        "Lukasz", "Mateusz",
    ),
    ("polish", "F", "any"): (
        "Anna", "Katarzyna", "Agnieszka", "Magdalena", "Joanna", "Zofia", "Julia", "Maja", "Natalia", "Oliwia",
        "Ewa", "Monika",
    ),
    ("west_african", "M", "any"): (
        "Emmanuel", "David", "Samuel", "Daniel", "Joshua", "Kwame", "Chinedu", "Tobi", "Kofi", "Michael",
    ),
    ("west_african", "F", "any"): (
        "Grace", "Blessing", "Esther", "Precious", "Abena", "Chioma", "Favour", "Ruth", "Adaeze", "Comfort",
    ),
}  # fmt: skip

CULTURES: tuple[tuple[str, float], ...] = (
    ("british", 0.80),
    ("south_asian", 0.11),
    ("polish", 0.05),
    ("west_african", 0.04),
)
"""Cultural groups of households and their shares."""

EXTRA_VARIANTS: dict[str, tuple[str, ...]] = {
    "mohammed": ("Mohammad", "Mohamed", "Mo"),
    "muhammad": ("Mohammed", "Muhammed"),
    "aisha": ("Ayesha", "Aysha"),
    "fatima": ("Fatema",),
    "yusuf": ("Yousuf", "Joseph"),
    "ibrahim": ("Ebrahim",),
    "zainab": ("Zaynab",),
    "maryam": ("Mariam",),
    "jakub": ("Kuba", "Jacob"),
    "piotr": ("Peter",),
    "tomasz": ("Tomek", "Tom"),
    "katarzyna": ("Kasia", "Kate"),
    "magdalena": ("Magda",),
    "agnieszka": ("Aga",),
    "krzysztof": ("Chris",),
    "jack": ("Jackie",),
    "harry": ("Haz",),
    "charlie": ("Charles",),
    "alfie": ("Alfred",),
    "freddie": ("Fred", "Frederick"),
    "leo": ("Leon",),
    "ellie": ("Ella",),
    "kwame": ("Kwami",),
    "emmanuel": ("Manny",),
}
"""Transliteration variants and anglicised forms the ``nicknames`` package does not know."""

_NICKNAME_DENY = frozenset(
    [
        "day",
        "polly",
        "thias",
        "thys",
        "nollie",
        "dob",
        "hob",
        "hobkin",
        "dobbin",
        "hap",
        "haps",
        "claas",
        "claes",
        "reba",
        "trina",
        "lena",
        "midge",
        "madge",
        "jos",
        "dann",
        "thom",
        "wil",
        "lib",
        "jem",
        "bela",
        "bell",
        "beck",
        "kaye",
        "kit",
        "kittie",
        "em",
        "al",
        "char",
        "sukey",
        "hannah",
        "emma",
        "mel",
        "amy",
        "emily",
        "henry",
        "harold",
        "jamie",
        "rupert",
        "daisy",
        "rita",
        "micah",
        "sherry",
        "lotta",
        "dick",
        "dickie",
        "dickon",
        "dicky",
    ]
)

_NICKNAME_CROSS = frozenset(["bill", "billy", "bob", "bobby", "peggy", "peg", "sally", "sadie", "ted", "ned", "patsy"])


@cache
def nickname_table() -> dict[str, tuple[str, ...]]:
    """Nicknames for every forename in :data:`FORENAMES`, keyed by the lower-case forename.

    Uses the ``nicknames`` package, keeping the familiar forms a council clerk would
    write (same initial, or well-known cross-initial forms such as Bill and Peggy) and
    adding transliteration variants from :data:`EXTRA_VARIANTS`.
    """
    try:
        from nicknames import NickNamer
    except ImportError:  # pragma: no cover - the package is a declared dependency
        namer = None
    else:
        namer = NickNamer()
    all_forenames = {n.lower() for names in FORENAMES.values() for n in names}
    table: dict[str, tuple[str, ...]] = {}
    for name in sorted(all_forenames):
        found: list[str] = []
        if namer is not None:
            for nick in sorted(namer.nicknames_of(name)):
                if nick in _NICKNAME_DENY or nick in all_forenames or len(nick) < 3:
                    continue
                if nick[0] == name[0] or nick in _NICKNAME_CROSS:
                    found.append(nick.capitalize())
        found.extend(EXTRA_VARIANTS.get(name, ()))
        if found:
            table[name] = tuple(dict.fromkeys(found))
    return table


def zipf_weights(n: int, exponent: float = 1.0) -> list[float]:
    """Cumulative Zipf weights for a list of ``n`` names in frequency order (last value 1.0)."""
    raw = [1.0 / (rank**exponent) for rank in range(1, n + 1)]
    total = sum(raw)
    cumulative: list[float] = []
    running = 0.0
    for value in raw:
        running += value / total
        cumulative.append(running)
    cumulative[-1] = 1.0
    return cumulative


STREET_NAMES: tuple[str, ...] = (
    "High", "Church", "Station", "Mill", "Park", "Victoria", "Albert", "Queens", "Kings", "New",
    "School", "Green", "Manor", "Oak", "Elm", "Ash", "Beech", "Willow", "Chestnut", "Meadow",
    "Orchard", "Grange", "Bridge", "Castle", "Brook", "Hill", "North", "South", "West", "Granville",
    "Tenford", "Ferndale", "Hawthorn", "Holly", "Rowan", "Laurel", "Cedar", "Maple", "Cherry", "Birch",
    "Poplar", "Sycamore", "Larch", "Heather", "Primrose", "Bluebell", "Foxglove", "Clover", "Juniper", "Bramble",
    "Cromwell", "Nelson", "Wellington", "Marlborough", "Trafalgar", "Gladstone", "Peel", "Byron", "Shelley", "Milton",
    "Chaucer", "Tennyson", "Wordsworth", "Kestrel", "Heron", "Falcon", "Swallow", "Lark", "Wren", "Curlew",
    "Canal", "Wharf", "Forge", "Foundry", "Tannery", "Weavers", "Spinners", "Cotton", "Coronation", "Jubilee",
    "Windsor", "Balmoral", "Sandringham", "Clarence", "Regent", "Stanley", "Derby", "Lancaster", "York", "Chester",
    "Moorland", "Fellside", "Riverside", "Lakeside", "Woodland", "Hillcrest", "Fairview", "Southgate", "Eastfield",
    "Westbury",
)  # fmt: skip

STREET_TYPES: tuple[tuple[str, str], ...] = (
    ("Street", "St"),
    ("Road", "Rd"),
    ("Avenue", "Ave"),
    ("Lane", "Ln"),
    ("Close", "Cl"),
    ("Drive", "Dr"),
    ("Way", "Way"),
    ("Crescent", "Cres"),
    ("Grove", "Gr"),
    ("Place", "Pl"),
    ("Gardens", "Gdns"),
    ("Terrace", "Ter"),
    ("Court", "Ct"),
    ("Walk", "Wlk"),
)
"""Street types with the abbreviation agencies use."""

LOCALITIES: tuple[str, ...] = (
    "",
    "",
    "",
    "Northfield",
    "Ashby Green",
    "Westmoor",
    "Hollinsdale",
    "Kingsbury Vale",
    "Lowfield",
)
"""Locality of each outward code TF1..TF9 (the town centre has none)."""

TOWN = "Tenford"
"""The fictional district town of the synthetic council."""

OUTSIDE_TOWNS: tuple[tuple[str, str], ...] = (
    ("Wrekinford", "TF10"),
    ("Oldbury Cross", "TF11"),
    ("Market Hensley", "TF12"),
    ("Brackenby", "TF13"),
)
"""Neighbouring towns outside the council's area, with their outward codes."""

INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
"""Letters allowed in the inward unit of a postcode (not C, I, K, M, O, V)."""

DIMINUTIVES: dict[str, tuple[str, ...]] = {
    "olivia": ("Liv", "Livvy", "Livvie"), "samantha": ("Sammie", "Sammy", "Sam"), "amelia": ("Mimi", "Mel"),
    "isabella": ("Izzy", "Bella", "Issy"), "sophia": ("Soph", "Sophie"), "sophie": ("Soph",),
    "charlotte": ("Lottie", "Charlie", "Lotty"), "elizabeth": ("Lizzie", "Beth", "Libby", "Liz"),
    "victoria": ("Vicky", "Tori", "Vikki"), "jessica": ("Jess", "Jessie"), "rebecca": ("Becky", "Becca", "Bex"),
    "abigail": ("Abbie", "Abi", "Abby"), "katherine": ("Kath", "Kate", "Kathy"), "catherine": ("Cath", "Cathy"),
    "jennifer": ("Jen", "Jenny"), "deborah": ("Debbie", "Debs"), "margaret": ("Maggie", "Peggy"),
    "patricia": ("Trish", "Tricia"), "jacqueline": ("Jackie", "Jacqui"), "amanda": ("Mandy",),
    "michelle": ("Shelley", "Shell"), "nicola": ("Nicky", "Nic"), "joanne": ("Jo", "Jojo"),
    "natalie": ("Nat", "Tally"), "danielle": ("Dani", "Danni"), "stacey": ("Stace",), "gemma": ("Gem",),
    "hayley": ("Hails",), "leanne": ("Lea",), "louise": ("Lou", "Lulu"), "amber": ("Ambs",), "phoebe": ("Phoebs",),
    "scarlett": ("Scarlet", "Letty"), "florence": ("Florrie", "Flo"), "lily": ("Lil", "Lils"), "grace": ("Gracie",),
    "evie": ("Eve",), "poppy": ("Pops",), "hannah": ("Han",), "megan": ("Meg",), "courtney": ("Court",),
    "emily": ("Em", "Emmy"), "summer": ("Sum",), "daisy": ("Dais",), "ruby": ("Rubes",), "freya": ("Frey",),
    "oliver": ("Olly", "Ollie"), "alexander": ("Alex", "Xander", "Sandy"), "benjamin": ("Ben", "Benji", "Benny"),
    "jacob": ("Jake", "Jay"), "joshua": ("Josh",), "nicholas": ("Nick", "Nicky"), "daniel": ("Danny", "Dan"),
    "matthew": ("Matt", "Matty"), "christopher": ("Chris", "Kit"), "jonathan": ("Jon", "Jonny"),
    "anthony": ("Tony", "Ant"), "stephen": ("Steve", "Stevie"), "samuel": ("Sam", "Sammy"),
    "thomas": ("Tom", "Tommy"), "william": ("Will", "Billy"), "joseph": ("Joe", "Joey"), "james": ("Jim", "Jimmy"),
    "michael": ("Mike", "Mikey", "Mick"), "richard": ("Rich", "Richie"), "robert": ("Rob", "Robbie"),
    "andrew": ("Andy", "Drew"), "edward": ("Ed", "Eddie", "Ted"), "theo": ("Teddy",), "henry": ("Harry", "Hal"),
    "archie": ("Arch",), "callum": ("Cal",), "kieran": ("Kie",), "bradley": ("Brad",), "connor": ("Con",),
    "ethan": ("Eth",), "mason": ("Mase",), "reuben": ("Rube",), "jayden": ("Jay",), "lucas": ("Luca", "Luke"),
    "mohammed": ("Mo", "Moe"), "muhammad": ("Mo",), "ibrahim": ("Ibby", "Ibi"), "zakariya": ("Zak", "Zack"),
    "hamza": ("Ham",), "bilal": ("Bil",), "imran": ("Immy",), "gurpreet": ("Preet", "Gurp"), "harjit": ("Harj",),
    "jaspreet": ("Jas",), "khadija": ("Dija",), "yasmin": ("Yaz", "Yas"), "safiya": ("Saf",),
    "maryam": ("Mary",), "katarzyna": ("Kasia", "Kasha"), "magdalena": ("Magda", "Madzia"),
    "aleksandra": ("Ola",), "zofia": ("Zosia",), "mateusz": ("Mat", "Mati"), "michal": ("Michu",),
    "krzysztof": ("Krzys",), "lukasz": ("Luke",), "emmanuel": ("Manny",), "chinedu": ("Chi",),
    "adaeze": ("Ada", "Daze"), "blessing": ("Bless",), "precious": ("Presh",), "oluwaseun": ("Seun",),
}  # fmt: skip
"""Informal diminutives and pet forms clerks write for the forenames of :data:`FORENAMES`
(many not in the ``nicknames`` package): ``forename_diminutive`` of an error profile."""
