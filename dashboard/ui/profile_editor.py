"""The model profile in effect for the sidebar's model, the operator's profile files, and the profile editor: a
form (preset and fields) or JSON, checked as a profile file is, with each error next to its field, used by this
browser session only (dashboard.ui.state.set_session_profile). The logic is dashboard.server.profile_form and
dashboard.server.profiles; texts from files and the server are escaped (dashboard.plain).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

import pandas as pd
import streamlit as st

from client import InvalidArgumentError, ModelProfile, TFServingError
from client.profile_format import CHANNELS, LAYOUTS, OUTPUT_KINDS, PRESET_CONVENTIONS, PRESETS, RESAMPLES, RESIZES
from dashboard.plain import escape_markdown, visible_cells
from dashboard.server import profile_form
from dashboard.server.explain import explain
from dashboard.server.profiles import (PROFILES_SETTING, ProfileCatalog, ProfileChoice, describe_profile,
                                       short_digest)
from dashboard.ui import state, widgets

__all__ = ["choice_line", "render_profile_editor", "render_profile_files", "sidebar_profile_note"]

NOT_SET = ""


def choice_line(choice: ProfileChoice) -> str:
    """"SERVESCOPE_PROFILES/x.json (sha256:1a2b…): preset keras-tf; classes Cat, Dog" — plain text."""
    if choice.profile is None:
        return choice.origin
    data = choice.profile.to_dict(inline_class_names=True)
    return f"{choice.origin} ({short_digest(choice.profile.digest)}): {describe_profile(data)}"


def sidebar_profile_note() -> None:
    """One line in the sidebar when the sidebar model's runs use a profile from the operator's folder or this
    session, or one that cannot be used (a built-in profile, or none, goes without saying here: the runs say it)."""
    try:
        model = state.connection().model
        choice = state.profile_chooser(model).choose(None)
    except Exception:  # noqa: BLE001 - the sidebar never fails here; the page says what is wrong
        return
    if choice.problem is None and (choice.profile is None or choice.origin.startswith("built-in")):
        return
    with st.sidebar:
        if choice.problem is not None:
            st.caption(escape_markdown(f"Model profile: cannot be used ({choice.problem.text})"))
        else:
            st.caption(escape_markdown(f"Model profile: {choice_line(choice)}"))


def _version_files(catalog: ProfileCatalog | None, model: str) -> list[str]:
    if catalog is None:
        return []
    names = [*catalog.profiles, *catalog.problems]
    return sorted(name for name in names if name.startswith(f"{model}.") and name != f"{model}.json"
                  and name[len(model) + 1:-len(".json")].isdigit())


def _in_effect(model: str) -> ProfileChoice:
    chooser = state.profile_chooser(model)
    catalog = chooser.catalog
    choice = chooser.choose(None)
    if choice.problem is not None:
        widgets.show_error(f"The model profile for {model} cannot be used: {choice.problem.text}. Runs of {model} "
                           "are refused until it is fixed (or a profile is set for this session below).")
    else:
        st.text(f"In effect for {model}: {choice_line(choice)}")
    for name in _version_files(catalog, model):
        if name in catalog.problems:
            widgets.show_error(f"{catalog.problems[name].text} (runs of that version are refused)")
        else:
            found = catalog.profiles[name]
            st.text(f"For version {name[len(model) + 1:-len('.json')]} only: {catalog.origin(name)} "
                    f"({short_digest(found.digest)}): {describe_profile(found.to_dict(inline_class_names=True))}")
    if choice.profile is None and choice.problem is None:
        st.caption("Without a profile, a model that takes pixels gets the default preparation (the pets preset) "
                   "and every run says it was assumed; a model that takes encoded images prepares them itself.")
    return choice


def render_profile_files() -> None:
    """Every file of the operator's folder, usable or not (the problem names the file and the key)."""
    folder = state.profile_folder()
    if folder is None:
        st.caption(f"{PROFILES_SETTING} is not set: the operator has no profile files here.")
        return
    catalog = folder.catalog()
    if catalog.folder_problem is not None:
        widgets.show_error(catalog.folder_problem.text)
        return
    rows = [{"file": name, "digest": short_digest(profile.digest),
             "profile": describe_profile(profile.to_dict(inline_class_names=True)), "problem": ""}
            for name, profile in catalog.profiles.items()]
    rows += [{"file": name, "digest": "", "profile": "", "problem": f"{problem.field}: {problem.reason}"}
             for name, problem in catalog.problems.items()]
    with st.expander(f"{len(rows)} file(s) in {PROFILES_SETTING}", expanded=bool(catalog.problems)):
        if rows:
            st.dataframe(visible_cells(pd.DataFrame(rows).sort_values("file")), hide_index=True)


def _preview(connection: state.Connection, profile: ModelProfile | None) -> profile_form.ProfilePreview | None:
    """What the profile sends to the model's newest version; None (after saying why) when it cannot be planned.
    InvalidArgumentError (a key that does not fit the signature) is raised for the caller to place."""
    try:
        return profile_form.preview(connection.url, connection.model, profile)
    except InvalidArgumentError:
        raise
    except TFServingError as exc:
        st.warning(escape_markdown(f"Not checked against the model: {explain(exc, connection.url, connection.model)}"),
                   icon=":material/cloud_off:")
        return None


def _select(label: str, options: tuple[str, ...], value: str, key: str, **options_kw: Any) -> str:
    choices = [NOT_SET, *options]
    index = choices.index(value) if value in choices else 0
    return st.selectbox(label, choices, index=index, key=key,
                        format_func=lambda v: "(not set)" if v == NOT_SET else v, **options_kw)


def _form(start: Mapping[str, Any], key: str) -> tuple[bool, profile_form.FormValues, dict]:
    """The form's fields (prefilled from `start`), each followed by its error slot; (pressed, values, slots)."""
    first = profile_form.form_values(start)
    slots: dict[str, Any] = {}
    with st.form(key, border=True):
        slots["profile"] = st.empty()
        preset = _select("Preset", PRESETS, first.preset, f"{key}_preset",
                         help="; ".join(f"{name}: {text}" for name, text in PRESET_CONVENTIONS.items()))
        slots["preset"] = st.empty()
        names = st.text_area("Class names, one per line, in the model's output order", first.class_names,
                             key=f"{key}_class_names", help="Not needed when the model has an output naming them")
        slots["class_names"] = st.empty()
        left, right = st.columns(2)
        height = left.number_input("Height (0: the signature's)", min_value=0, max_value=16384, value=first.height,
                                   step=1, key=f"{key}_height")
        width = right.number_input("Width (0: the signature's)", min_value=0, max_value=16384, value=first.width,
                                   step=1, key=f"{key}_width")
        slots["input.size"] = st.empty()
        left, right = st.columns(2)
        with left:
            resize = _select("Resize", RESIZES, first.resize, f"{key}_resize")
            slots["input.resize"] = st.empty()
            channels = _select("Channels", CHANNELS, first.channels, f"{key}_channels")
            slots["input.channels"] = st.empty()
            output_name = st.text_input("Output read (name)", first.output_name, key=f"{key}_output_name")
            slots["output.name"] = st.empty()
        with right:
            resample = _select("Resample", RESAMPLES, first.resample, f"{key}_resample")
            slots["input.resample"] = st.empty()
            layout = _select("Layout", LAYOUTS, first.layout, f"{key}_layout")
            slots["input.layout"] = st.empty()
            output_kind = _select("Output kind", OUTPUT_KINDS, first.output_kind, f"{key}_output_kind")
            slots["output.kind"] = st.empty()
        pressed = st.form_submit_button("Use for this session", type="primary")
    values = profile_form.FormValues(preset, names, int(height), int(width), resize, resample, channels, layout,
                                     output_name, output_kind)
    return pressed, values, slots


def _field_error(slots: Mapping[str, Any], exc: InvalidArgumentError) -> None:
    """The error next to its field (above the form when it has none)."""
    slot = slots.get(exc.field) or slots["profile"]
    slot.error(escape_markdown(f"{exc.field}: {exc.reason}" if exc.field != "profile" else f"{exc}"),
               icon=":material/error:")


def _apply(connection: state.Connection, profile: ModelProfile, slots: Mapping[str, Any]) -> None:
    try:
        seen = _preview(connection, profile)
    except InvalidArgumentError as exc:
        _field_error(slots, exc)
        return
    state.set_session_profile(connection.model, profile)
    message = f"This session now uses this profile ({short_digest(profile.digest)}) for {connection.model}."
    if seen is not None:
        message += f" Version {seen.version} gets: {seen.preparation}; {seen.output}; {seen.classes}."
    st.session_state[f"models_profile_applied_{connection.model}"] = message
    st.rerun()


def render_profile_editor(connection: state.Connection, *, key_prefix: str = "models_profile") -> None:
    """The profile in effect for the sidebar's model, the operator's files, and the editor for this session."""
    model = connection.model
    st.subheader("Model profile")
    st.caption("How the model's pixels are prepared and its outputs read (docs/client.md, model profiles). A "
               "profile set here is used by this browser session only; the operator's files are in "
               f"{PROFILES_SETTING}.")
    choice = _in_effect(model)
    render_profile_files()
    if message := st.session_state.pop(f"models_profile_applied_{model}", None):
        st.success(escape_markdown(message), icon=":material/check_circle:")
    own = state.session_profile(model)
    if own is not None and st.button("Stop using this session's profile", key=f"{key_prefix}_clear_{model}"):
        state.set_session_profile(model, None)
        st.rerun()
    start = (own or choice.profile).to_dict(inline_class_names=True) if (own or choice.profile) else {}
    with st.expander("Set a profile for this session", expanded=own is not None or choice.profile is None):
        mode = st.radio("Edit as", ["Form", "JSON"], horizontal=True, key=f"{key_prefix}_mode")
        if mode == "Form":
            pressed, values, slots = _form(start, f"{key_prefix}_form_{model}")
            if pressed:
                try:
                    profile = profile_form.session_profile(profile_form.profile_data(values, keep=start))
                except InvalidArgumentError as exc:
                    _field_error(slots, exc)
                    return
                _apply(connection, profile, slots)
            return
        text = st.text_area("Profile (JSON)", json.dumps(start, indent=2, ensure_ascii=False),
                            height=240, key=f"{key_prefix}_json_{model}")
        slots = {"profile": st.empty()}
        if st.button("Use for this session", type="primary", key=f"{key_prefix}_json_apply_{model}"):
            try:
                profile = profile_form.session_profile_from_json(text)
            except InvalidArgumentError as exc:
                _field_error(slots, exc)
                return
            _apply(connection, profile, slots)
