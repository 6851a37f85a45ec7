//! The docs pages: Swagger UI at `/docs` (poem-openapi's, with one display
//! fix) and Redoc at `/redoc` (poem-openapi's, made offline).

/// The Swagger UI that poem-openapi bundles prints a schema's `example` in
/// its "Schema" views with `String(value)`: an object example (every one of
/// the contract's: `Task`, the request bodies, each problem response) shows as
/// Immutable.js's `OrderedMap { … }`, an array as `List [ … ]`
/// (swagger-api/swagger-ui#10535, fixed in later Swagger UI releases). The
/// examples are valid OpenAPI; this plugin has Swagger UI print such values as
/// JSON. It wraps `SwaggerUIBundle` before poem-openapi's page calls it.
const EXAMPLES_AS_JSON: &str = r#"<script>
(() => {
    const examplesAsJson = () => ({
        wrapComponents: {
            Property: (Original, system) => (props) => {
                const value = props.propVal;
                const shown = value && typeof value.toJS === "function"
                    ? JSON.stringify(value.toJS())
                    : value;
                return system.React.createElement(Original, { ...props, propVal: shown });
            },
        },
    });
    const bundle = window.SwaggerUIBundle;
    window.SwaggerUIBundle = Object.assign(
        (config) => bundle({ ...config, plugins: [...(config.plugins || []), examplesAsJson] }),
        bundle,
    );
})();
</script>
"#;

/// The page, from poem-openapi's `swagger_ui_html()`: the plugin goes at the
/// end of `<head>`, after the Swagger UI bundle (whose text has `</head>` in
/// it too, hence the last one) and before the script in `<body>` that starts
/// it.
pub fn swagger_ui_page(html: &str) -> String {
    match html.rfind("</head>") {
        Some(at) => format!("{}{EXAMPLES_AS_JSON}{}", &html[..at], &html[at..]),
        None => html.to_owned(),
    }
}

/// The Redoc page, from poem-openapi's `redoc_html()` (Redoc's script and the
/// spec inline), without the web fonts it links from Google: the page then
/// needs nothing from outside the server, and Redoc falls back to the
/// browser's sans-serif.
pub fn redoc_page(html: &str) -> String {
    html.lines()
        .filter(|line| !line.contains("fonts.googleapis.com"))
        .collect::<Vec<_>>()
        .join("\n")
        .replacen("<title>Redoc</title>", "<title>Todo API (Redoc)</title>", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_lands_between_the_bundle_and_its_start() {
        let page = swagger_ui_page(&crate::api::service().swagger_ui_html());
        let plugin = page
            .find(EXAMPLES_AS_JSON)
            .expect("the plugin is in the page");
        let (before, after) = (&page[..plugin], &page[plugin + EXAMPLES_AS_JSON.len()..]);
        assert!(
            before.trim_end().ends_with("</script>"),
            "right after the bundle"
        );
        assert!(after.starts_with("</head>") && after.contains("SwaggerUIBundle({"));
    }

    #[test]
    fn the_redoc_page_links_nothing_outside_the_server() {
        let page = redoc_page(&crate::api::service().redoc_html());
        assert!(page.contains("Redoc.init(") && page.contains("\"openapi\""));
        for tag in ["<link", "<script src", "@import"] {
            assert!(!page.contains(tag), "{tag} in the Redoc page");
        }
    }
}
