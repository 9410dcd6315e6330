// Marks the page as having JavaScript, as govuk-frontend expects (kept out of the HTML for the CSP).
document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
