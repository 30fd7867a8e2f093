"""What every page shares on screen: the session's state (state.py), shared widgets (widgets.py), who the visitor
is and what they may do (access.py), runs in progress (run_progress.py), the request inspector (inspector_view.py),
two small browser components (components.py: a key listener, clickable tiles), and the Host check the dashboard's
server runs before any page (allowed_hosts.py, plain ASGI, no streamlit). Import them as modules
(`from dashboard.ui import state, widgets`)."""

__all__: list[str] = []
