"""The web app (``net2net serve``): a thin Gradio layer over the public API.

:mod:`net2net.app.handlers` holds what each tab does, as plain functions (no Gradio);
:mod:`net2net.app.server` builds the page (``build_app``) and serves it (``serve``).
Gradio is imported only by the server module, so the library works without it.
"""

__all__: list[str] = []
