// The interactive API page (/api/docs): Swagger UI on this server's OpenAPI document, from assets
// served by this server (no CDN). A separate file because the CSP allows no inline script.
// "Authorize" takes an API token; it is kept in this page only (not in the browser's storage).
"use strict";

window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  persistAuthorization: false,
  showExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
});
