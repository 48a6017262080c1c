"""Reports as HTML pages: Markdown (every data value in it written with `riskops.core.markup.md_text`) rendered
and then sanitised, so no script, event handler or `javascript:` link can reach a reader's browser."""

from __future__ import annotations

import html

# What a report may contain once rendered: text formatting, tables, lists, links and images; nothing active.
_REPORT_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "img",
    "br",
    "hr",
    "blockquote",
}
_REPORT_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "th": {"align", "style"}, "td": {"align", "style"}}


def markdown_html(md: str, title: str, css: str) -> str:
    """A whole HTML page from Markdown: rendered, then sanitised to the report's tags and attributes (links and
    images only to http(s) or relative addresses), with the title escaped."""
    import markdown
    import nh3

    body = nh3.clean(
        markdown.markdown(md, extensions=["tables"]),
        tags=_REPORT_TAGS,
        attributes=_REPORT_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{css}</style></head><body>{body}</body></html>"
    )
