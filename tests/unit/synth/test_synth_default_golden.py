"""The default error profile is the generator as it always was: the same bytes for every seed and size.

Every benchmark's data and several tests' expectations depend on the default batches, so
``--profile default`` (and no profile) must not change one byte. The SHA-256 hashes below
were computed from the generator *before* error profiles existed (commit 96ddfa7, the
merge base of the profiles branch) with::

    synthesise(60, 2, date(2026, 10, 31), out)
    synthesise(400, 7, date(2026, 10, 31), out)
    synthesise(250, 13, date(2027, 3, 15), out)
    synthesise_months(150, 3, date(2026, 10, 31), out, 2, churn=0.1)

hashing every ``*.csv`` under ``out`` (relative path -> sha256 of the bytes). They are a
golden record: change them only with a change meant to alter the default batches, and
say so in its commit message. Changed since: the second month of ``m150_s3`` (routine
records in plain months, housing claims that end and open records that follow a move:
``tfident.synth.months``; the first month's bytes are unchanged).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from tfident.synth import synthesise, synthesise_months

CASES: dict[str, tuple[int, int, dt.date, int]] = {
    "b60_s2_2026-10-31": (60, 2, dt.date(2026, 10, 31), 1),
    "b400_s7_2026-10-31": (400, 7, dt.date(2026, 10, 31), 1),
    "b250_s13_2027-03-15": (250, 13, dt.date(2027, 3, 15), 1),
    "m150_s3_2026-10-31_x2": (150, 3, dt.date(2026, 10, 31), 2),
}

GOLDEN: dict[str, dict[str, str]] = {
    "b250_s13_2027-03-15": {
        "asb.csv": "e16b8e9bc4eb4a79b1e5f3d33375931489b677daa8e33afd738a69319c0a35fc",
        "attendance.csv": "60040c398d34af4909f89004cadde908453f1999e1d5b214bbe2eecea1aefe0a",
        "benefits.csv": "ff5597fda732d2ea837d485fc06dd214cbf7cb09c5a34f8d57599526d91dae9c",
        "domestic_abuse.csv": "2269e0c1b3ecaafac20d4b06b8d5b3ca766b924239647e91b71efbf39ea76e00",
        "exclusions.csv": "c87385c32a4360eaf506b10651a07ba063e1a056e5b00ebb3bf8ef7a2bc2863a",
        "gazetteer.csv": "3a6873266a3ed4311966d3365e28fafb8030c11b46da3d1f1fc182ca427c3c81",
        "health.csv": "68ac3b2dfb121b42313317507fca098c9af8615c3fa75a5d6fcd5f859844fc2e",
        "school_census.csv": "a627fc3afaf061278f552ed4e92ea943f47ee89301e9c872f504474023105e0e",
        "social_care.csv": "c7c5f76d50dfd58343075d2d7b6b414d83acacf3bc213ade0bca59511aeac850",
        "truth/faults.csv": "af9b670be60ccf5ecf5a2d58889832bd05d20718787e351a17cef96c7d953543",
        "truth/households.csv": "ee86946351f728f56888ccd8534fe08b00d35dd5eca1804f771d82614bbeffa4",
        "truth/persons.csv": "3339191beab51464f3f46caf9cf37ce0f733578a317bd1d208d069ab1645d70a",
        "youth_offending.csv": "743b9d8d2a056555b2514979d0fac851df3f99152d11ce49ee0371a44216bdbc",
    },
    "b400_s7_2026-10-31": {
        "asb.csv": "d7e163cbbe5f1ea8a073ed1087d0ea5ad41b9a2322869304e453d6627ef2cdec",
        "attendance.csv": "0aff34fdb20bb2d773c46788ed2b53aac868a8e997a718c91ffe27fc354b8dba",
        "benefits.csv": "1f50386cf8ec377da7ea4a17862044725ba6bdd44ef8d695c9eeceb9ed7ffff0",
        "domestic_abuse.csv": "03d2df36fd29c22382653f1b91e6e3b6ff9f1b5d183237269ed2893b08fb380f",
        "exclusions.csv": "6e13a2c74163dc02a263cb4648c33eb4885093a1f5f744d5f476683737201f53",
        "gazetteer.csv": "27cd8140bccf047dcd3d8bb651eb31bb0b2c1adb78dd8f92f8e3a684cfe6d2be",
        "health.csv": "694f10fb9eaa8ed4d7146e7afee276178e499b8f969a44e48776dfd0b998df44",
        "school_census.csv": "d34377ac86cdaec4c94431e0b8e827be1112b9aa5c8f6b12651a5a44e28206e1",
        "social_care.csv": "0ec077fd801aec063a1fb70a0a6371eb92dd52d26cf053a8ee1051916b45968d",
        "truth/faults.csv": "54158cb7b4bd036d417991c4ed4fe4bdda3eb7737d24bd047b51870fbe8abd83",
        "truth/households.csv": "ac8786b16a15c38778b0a07a9a528f3bed2ef2d7a1d210d0ed5d7e9a6863b2a6",
        "truth/persons.csv": "1e83bdd0b7b18981dd60b67588716dfcacc52e9889ddaf311c4eb5296363e612",
        "youth_offending.csv": "66dc8b0fc66020454a543bd644ce3a8c0007bf05daef346e747fddf17b923bd6",
    },
    "b60_s2_2026-10-31": {
        "asb.csv": "eb1c60adae3bd909986ae2c0846954e8e0f3481e574433510795d0331930b028",
        "attendance.csv": "067e46be7d5a01cf2d0cd5ed3ee48930755b044792ee77473d32416c701e4355",
        "benefits.csv": "f1114c7f07eca546ad2c6755d90bc727dd089dd2d0c663d74801c98ec1000f3d",
        "domestic_abuse.csv": "cfd720fae26efd6893de715b49a3db88c7fa2b13b5241429a6c5b475d1ed7cb7",
        "exclusions.csv": "c983bfea1a05f941051dd6747e4cfc5016c8cb7ddb31af98cf6be21400322653",
        "gazetteer.csv": "76fb362400006fb0965581455c53a4f29865c11091c2f29dd06d584ca02b4dab",
        "health.csv": "2ebe62e6b3c37f31519b7c272ac32cb49879d3300d056d098bd45826f819746e",
        "school_census.csv": "5398e17650ed32f9d536295ce231bb735549156dd291fe2b3cf8afc91217614e",
        "social_care.csv": "bc29118cb8d313ea2b8500324d5d63bff29063f93317ac574cf3ead65cdc065e",
        "truth/faults.csv": "5622d85553dd455ef279abd3467fd1a54a2f92592a2cd355ada656dcbe159953",
        "truth/households.csv": "ef24da583144fa2a3338fbd36100f45e58378c7e5df7c3208fabcbe4e8f04578",
        "truth/persons.csv": "24d50896bd61682ec97eef1b62424e015158a3a4ffb31376d16f920e74a2aa26",
        "youth_offending.csv": "9cc710673fb18d4036bb764fb68046f0d66e13ec6ad33beb0ce223e5c8c579bc",
    },
    "m150_s3_2026-10-31_x2": {
        "2026-10-31/asb.csv": "7a7b8a43a34b9c1a027899d910b9d135928a365667bb9cbc2bfb7780ffb6385c",
        "2026-10-31/attendance.csv": "8e06cb0ba38775122224b81f697d27edfbae88d82a0124af3cb0a5db680444d7",
        "2026-10-31/benefits.csv": "8930f0e4d58ac48c14565100e6b05e560ee0744105d0b715608d5cb86e7a64f4",
        "2026-10-31/domestic_abuse.csv": "0e167f4ab34db9c211b7363f9e960fbd6b977149aaada920cbef66d3b64041e0",
        "2026-10-31/exclusions.csv": "e4519108f886d8a82447fcd036ff8c95bbe9ffa202e237028101553bd5c7f8a6",
        "2026-10-31/gazetteer.csv": "c3cfbb4c9151adde04c36129bbffcce10df4e2817c4dd02d9f01bb3fd4496d37",
        "2026-10-31/health.csv": "a579b9a1b46974fca7d00c41c068f14b6d17e13fc9bec03579aeafcbcd4e8c25",
        "2026-10-31/school_census.csv": "787bda8f8c486ac65bf788a0439a2672243f7223ed37dbf8fcf1ae3645384922",
        "2026-10-31/social_care.csv": "167bc83e13e7e8c090581f7b19019adcd198d321d22ed9302a7fafd66df17d70",
        "2026-10-31/truth/faults.csv": "2cb6509d3b17746296c461312d1db2fd714fec7551ac57e795e5c66cd7993e4a",
        "2026-10-31/truth/households.csv": "fed6c7c10895a0652f19a0a8b2fb3ff865a079e20dfa51e5c97ab1a2c954e043",
        "2026-10-31/truth/persons.csv": "806e8e3f0d4bf2429001d91c353285520bc5c0c147967f56562b4731543a0d96",
        "2026-10-31/youth_offending.csv": "3289e4570573ab4511cc5e2353bc793d1d069d8b9fe73f898e6ada73215bf8f0",
        "2026-11-30/asb.csv": "e3d922a395d41e8c21dd1afdc91d74e7b4d9f1f83114e0787d2d3da30da198ec",
        "2026-11-30/attendance.csv": "7af37e5a38541b5adaf01a74aae79fd3c339867413a0a114c58565ff210c23b4",
        "2026-11-30/benefits.csv": "84e74904e64dfc81e9f94c5a49212f4f57f98ed2798ba6ce0354dd9aeac61b3f",
        "2026-11-30/domestic_abuse.csv": "0e167f4ab34db9c211b7363f9e960fbd6b977149aaada920cbef66d3b64041e0",
        "2026-11-30/exclusions.csv": "e8b1e9faed8216603f317e509a406ca307d554c5944f6b5c4b65b534f3418b74",
        "2026-11-30/gazetteer.csv": "c3cfbb4c9151adde04c36129bbffcce10df4e2817c4dd02d9f01bb3fd4496d37",
        "2026-11-30/health.csv": "4fa86b64052e5c0c3c743cedb820480906d7d5185071a9c73869e32ffc75338a",
        "2026-11-30/school_census.csv": "e32d721fd613c68ee2e8f287d762f5118e2fdac445fcc6314157317520d72c28",
        "2026-11-30/social_care.csv": "885e7483174a351545ecf221a1c44cbdaa6413b8e3e3460134a4c213dcf2a9e1",
        "2026-11-30/truth/changes.csv": "95898beaeb7d00530b6c42bfb2295ebba0e771edc7ad2f34828550c597237234",
        "2026-11-30/truth/faults.csv": "5657b2ec8297af62c6afe8999e9a659b28c9482e3f71ffa945d723d32607e00e",
        "2026-11-30/truth/households.csv": "da449268cfe96ac52b17f0901c8221f656d669a21eebfe3b5541d87c0f455990",
        "2026-11-30/truth/persons.csv": "70e66687e6eb493c01861736b76c36d4116b6b8b0df9017f2373ef664cf7a8a1",
        "2026-11-30/youth_offending.csv": "3289e4570573ab4511cc5e2353bc793d1d069d8b9fe73f898e6ada73215bf8f0",
    },
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.csv"))
    }


@pytest.mark.parametrize("profile", [None, "default"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_default_profile_gives_the_bytes_of_the_generator_before_profiles(
    case: str, profile: str | None, tmp_path: Path
) -> None:
    """No profile and ``default`` write exactly the files the generator wrote before profiles existed."""
    households, seed, as_of, months = CASES[case]
    if months == 1:
        synthesise(households, seed, as_of, tmp_path, profile=profile)
    else:
        synthesise_months(households, seed, as_of, tmp_path, months, churn=0.1, profile=profile)
    assert _digest(tmp_path) == GOLDEN[case]
