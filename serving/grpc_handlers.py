"""gRPC request handlers: decode the request proto, call the repository/servable, encode TF Serving's response proto.

Each handler mirrors the TF Serving code path named in its docstring, with the same checks in the same order and
the same error texts; it returns the response or raises (grpc_service.py maps exceptions through errors.py).
"""
from __future__ import annotations

from typing import Callable, Optional

from google.protobuf import text_format
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_pb2,
    predict_pb2,
)

from serving.config import ConfigError, validate
from serving.errors import FailedPrecondition, InvalidArgument, NotFound, Unknown
from serving.grpc_tensors import array_to_proto, proto_to_array
from serving.loader import DEFAULT_SIGNATURE, LoadedVersion
from serving.repository import AVAILABLE, ModelRepository

SIGNATURE_DEF_FIELD = "signature_def"  # GetModelMetadataImpl::kSignatureDef: the only metadata TF Serving serves

# Runs a servable's signature on numpy inputs; the server shares REST's runner (thread limit, batching, timeout).
Runner = Callable[[LoadedVersion, str, dict], dict]


def require_model_spec(request) -> model_pb2.ModelSpec:
    if not request.HasField("model_spec"):
        raise InvalidArgument("Missing ModelSpec")
    return request.model_spec


def resolve(repo: ModelRepository, spec: model_pb2.ModelSpec) -> LoadedVersion:
    """ServerCore::ServableRequestFromModelSpec + GetServableHandle: a version, a label, or the latest."""
    if not spec.name:
        raise InvalidArgument("ModelSpec has no name specified.")
    choice = spec.WhichOneof("version_choice")
    return repo.resolve(spec.name, spec.version.value if choice == "version" else None,
                        spec.version_label if choice == "version_label" else None)


def response_model_spec(target: model_pb2.ModelSpec, name: str, signature_name: str, version: int) -> None:
    """MakeModelSpec: the request's model name, the signature actually run, the version that answered."""
    target.name = name
    target.signature_name = signature_name or DEFAULT_SIGNATURE
    target.version.value = version


def _names(keys) -> str:
    return ",".join(sorted(keys))


def _predict_inputs(signature, request: predict_pb2.PredictRequest) -> dict:
    """VerifyRequestInputsSize, then saved_model::GetInputValues (signature defaults fill missing inputs)."""
    sent, wanted = set(request.inputs), set(signature.inputs)
    if len(sent) > len(wanted) or (len(sent) < len(wanted) and not signature.defaults):
        raise InvalidArgument(
            f"input size does not match signature: {len(sent)}!={len(wanted)} len({{{_names(sent)}}}) != "
            f"len({{{_names(wanted)}}}). Sent extra: {{{_names(sent - wanted)}}}. Missing but required: "
            f"{{{_names(wanted - sent)}}}.")
    inputs, used = {}, set()
    for alias in sorted(wanted):
        if alias in request.inputs:
            proto = request.inputs[alias]
            used.add(alias)
        elif alias in signature.defaults:
            proto = signature.defaults[alias]
        else:
            raise InvalidArgument(
                f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) not found in request "
                f"and no default value provided. Inputs expected to be in the request {{{_names(sent)}}}, or "
                f"default input alias set: {_names(signature.defaults)}")
        inputs[alias] = proto_to_array(proto, alias)
    if sent and used != sent:
        raise InvalidArgument(f"Inputs contains invalid name. Used request inputs: {_names(used)}, request input: "
                              f"{_names(sent)}")
    return inputs


def _output_aliases(signature, request: predict_pb2.PredictRequest) -> list[str]:
    """The outputs to return: `output_filter` in its order (checked), or every output of the signature."""
    aliases: list[str] = []
    for alias in request.output_filter:
        if alias not in signature.outputs:
            raise InvalidArgument(f"output tensor alias not found in signature: {alias} Outputs expected to be in "
                                  f"the set {{{_names(signature.outputs)}}}.")
        if alias in aliases:
            raise InvalidArgument(f"duplicate output tensor alias: {alias}")
        aliases.append(alias)
    return aliases or sorted(signature.outputs)


def predict(repo: ModelRepository, run: Runner, request: predict_pb2.PredictRequest, *,
            tensor_content: bool = True) -> predict_pb2.PredictResponse:
    """PredictionService.Predict (predict_impl.cc, predict_util.cc RunPredict)."""
    spec = require_model_spec(request)
    servable = resolve(repo, spec)
    signature_name = spec.signature_name or DEFAULT_SIGNATURE
    if signature_name not in servable.signature_defs:
        raise FailedPrecondition(f'Serving signature key "{signature_name}" not found.')
    signature = servable.signature_defs[signature_name]
    inputs = _predict_inputs(signature, request)
    aliases = _output_aliases(signature, request)
    outputs = run(servable, signature_name, inputs)
    del inputs  # large requests: the decoded tensors are views of the request; free them with it
    response = predict_pb2.PredictResponse()
    response_model_spec(response.model_spec, spec.name, signature_name, servable.version)
    for alias in aliases:
        response.outputs[alias].CopyFrom(array_to_proto(outputs[alias], tensor_content=tensor_content))
    return response


def get_model_metadata(repo: ModelRepository, request: get_model_metadata_pb2.GetModelMetadataRequest
                       ) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """PredictionService.GetModelMetadata (get_model_metadata_impl.cc): the SignatureDefMap, packed in an Any."""
    spec = require_model_spec(request)
    if not request.metadata_field:
        raise InvalidArgument("GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != SIGNATURE_DEF_FIELD:
            raise InvalidArgument(f"Metadata field {field} is not supported")
    servable = resolve(repo, spec)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(signature)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
    return response


def get_model_status(repo: ModelRepository, request: get_model_status_pb2.GetModelStatusRequest
                     ) -> get_model_status_pb2.GetModelStatusResponse:
    """ModelService.GetModelStatus (get_model_status_impl.cc): one version or all, newest first; labels ignored."""
    spec = require_model_spec(request)
    version: Optional[int] = spec.version.value if spec.WhichOneof("version_choice") == "version" else None
    response = get_model_status_pb2.GetModelStatusResponse()
    for state in repo.version_states(spec.name, version):
        entry = response.model_version_status.add()
        entry.version = state.version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
        entry.status.error_code = error_codes_pb2.Code.Value(state.error_code)
        entry.status.error_message = state.error_message
    return response


def reload_config(repo: ModelRepository, request: model_management_pb2.ReloadConfigRequest
                  ) -> model_management_pb2.ReloadConfigResponse:
    """ModelService.HandleReloadConfigRequest (model_service_impl.cc, ServerCore::ReloadConfig).

    Applies the new model list and loads what it asks for before answering; a model new to the server that has
    no AVAILABLE version afterwards fails the call with UNKNOWN, as ServerCore's WaitUntilModelsAvailable does.
    """
    config = request.config
    if config.WhichOneof("config") != "model_config_list":
        raise InvalidArgument("ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
                              "ModelConfigList is currently supported")
    try:
        validate(config, source="ReloadConfigRequest")
    except ConfigError as exc:
        raise InvalidArgument(str(exc)) from None
    before = set(repo.model_names())
    repo.apply_config(list(config.model_config_list.config))
    repo.reconcile()
    failed = []
    for name in sorted(set(repo.model_names()) - before):
        try:
            states = repo.version_states(name)
        except NotFound:  # no version folder at all
            states = []
        if not any(state.state == AVAILABLE for state in states):
            errors = "".join(f"{{{{name: {name} version: {s.version}}} due to error: {s.error_code}: "
                             f"{s.error_message}}}, " for s in states if s.error_code != "OK")
            failed.append(errors or f"{{{{name: {name}}}}}, ")
    if failed:
        raise Unknown(f"{len(failed)} model(s) did not become available: {{{''.join(failed)}}}")
    response = model_management_pb2.ReloadConfigResponse()
    response.status.error_code = error_codes_pb2.OK
    return response


def signature_text(signature) -> str:
    """SignatureDef::DebugString, which TF Serving puts in some error messages."""
    return text_format.MessageToString(signature)
