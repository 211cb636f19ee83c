"""One module per admin area. web.app.web_routes() imports every module here (names starting with
"_" are helpers) and serves each module's ROUTES; each module registers its sidebar entry with
web.nav.register when imported."""
