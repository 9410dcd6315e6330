// Starts govuk-frontend's components; every page also works without it.
import { initAll } from "/static/govuk/govuk-frontend.min.js";
initAll();
