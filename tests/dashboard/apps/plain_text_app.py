"""Hostile texts (file names, server errors) through dashboard.plain in every Markdown element the pages use."""
import streamlit as st

from dashboard.plain import bullet_list, escape_markdown

HOSTILE = (
    "x![b](http://127.0.0.1:9/beacon.png).jpg",
    "Model 'pets' at http://127.0.0.1:8501/v1/models/pets",
    "see www.example.com or WWW.EXAMPLE.ORG, mail admin@example.com",
    "<img src=http://127.0.0.1:9/html.png> **bold** [link](http://127.0.0.1:9/l) :red[red] $x^2$",
)

for text in HOSTILE:
    st.error(escape_markdown(text))
    st.warning(escape_markdown(text))
    st.caption(escape_markdown(text))
    st.markdown(escape_markdown(text))
st.markdown(bullet_list(HOSTILE))
