"""A page that fails unexpectedly, with a message and a path an outsider must never see."""
import streamlit as st

st.title("About to fail")
raise RuntimeError("secret-token-4711 in /srv/servescope/internal/settings.py")
