"""What starts the dashboard: `streamlit run dashboard_app.py`. Streamlit runs this file in its ASGI mode (it finds
the `st.App` below): its own server, with `AllowedHostsMiddleware` outermost, serving the page script
streamlit_app.py. A request whose Host is not localhost, 127.0.0.1, [::1] or a name in SERVESCOPE_ALLOWED_HOSTS is
refused before Streamlit answers it (DNS rebinding; docs/security.md). A bad SERVESCOPE_ALLOWED_HOSTS stops the
start with a message naming it.
"""
import streamlit as st
from starlette.middleware import Middleware

from client import reuse_large_buffers
from dashboard.config import FieldError
from dashboard.ui.allowed_hosts import AllowedHostsMiddleware, allowed_hosts

reuse_large_buffers()  # the runs prepare pixels in this process: without page faults for each array (client.memory)

try:
    ALLOWED_HOSTS = allowed_hosts()
except FieldError as exc:
    raise SystemExit(f"cannot start the dashboard: {exc}") from None

app = st.App("streamlit_app.py", middleware=[Middleware(AllowedHostsMiddleware, allowed=ALLOWED_HOSTS)])
