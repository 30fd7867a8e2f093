"""TF Serving's own configuration in the manifests: the model volume the init container fills, every config file
flag backed by a mounted ConfigMap key, the batching parameters as TF Serving's proto, the gs:// models.config."""
from __future__ import annotations

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pets import VERSION_SIZES
from pets.serving_config import pets_server_config
from tests.deploy.manifests import (BASE, OVERLAYS, args_of, container, data_keys, name_of, one, pod_spec, render,
                                    rendering)
from tests.support import ROOT

WITH_TF_SERVING = rendering("Deployment", "tf-serving")


def test_the_model_volume_is_built_by_the_init_container_and_read_by_tf_serving():
    serving = one(render(BASE), "Deployment", "tf-serving")
    build, server = container(serving, "pets-build"), container(serving, "tf-serving")
    assert build["command"] + build["args"] == ["python", "-m", "pets.build", "--output", "/models/pets"]
    assert build["image"].startswith("servescope-model-builder:")
    assert {"name": "models", "mountPath": "/models"} in build["volumeMounts"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    # pets.build writes models.config with base_path = the --output directory, i.e. valid in the server's mount.
    assert args_of(server)["model_config_file"] == "/models/pets/models.config"
    assert args_of(server)["allow_version_labels_for_unavailable_models"] == "true"
    assert "emptyDir" in [v for v in pod_spec(serving)["volumes"] if v["name"] == "models"][0]


@pytest.mark.parametrize("directory", WITH_TF_SERVING, ids=name_of)
def test_every_config_file_tf_serving_is_given_is_a_key_of_a_mounted_configmap(directory):
    objects = render(directory)
    serving = one(objects, "Deployment", "tf-serving")
    server = container(serving, "tf-serving")
    volumes = {v["name"]: v for v in pod_spec(serving)["volumes"]}
    flags = {flag: path for flag, path in args_of(server).items() if flag.endswith("_file")}
    assert set(flags) >= {"model_config_file", "batching_parameters_file", "monitoring_config_file"}
    assert args_of(server)["enable_batching"] == "true"
    for flag, path in flags.items():
        mount = max((m for m in server["volumeMounts"] if path.startswith(m["mountPath"] + "/")),
                    key=lambda m: len(m["mountPath"]), default=None)
        assert mount, f"--{flag}={path} is on no mounted volume"
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            config_map = one(objects, "ConfigMap", volume["configMap"]["name"])
            assert path.removeprefix(mount["mountPath"] + "/") in data_keys(config_map), f"--{flag}={path}"
        else:  # the model volume: written by the init container (previous test)
            assert flag == "model_config_file" and "emptyDir" in volume


def batching_parameters_type():
    """BatchingParameters as declared in TF Serving's session_bundle_config.proto (tensorflow-serving-api does
    not ship that module), built at run time so that text_format checks names, types and syntax."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import wrappers_pb2  # noqa: F401  (registers the wrapper types in the default pool)

    proto = descriptor_pb2.FileDescriptorProto(name="servescope_batching.proto", package="servescope",
                                               dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    wrapped = {"max_batch_size": "Int64Value", "batch_timeout_micros": "Int64Value",
               "max_enqueued_batches": "Int64Value", "num_batch_threads": "Int64Value",
               "thread_pool_name": "StringValue", "enable_large_batch_splitting": "BoolValue",
               "max_execution_batch_size": "Int64Value"}
    field = descriptor_pb2.FieldDescriptorProto
    for number, (name, wrapper) in enumerate(wrapped.items(), start=1):
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE, label=field.LABEL_OPTIONAL,
                          type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=20, type=field.TYPE_INT64, label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=21, type=field.TYPE_BOOL,
                      label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindMessageTypeByName("servescope.BatchingParameters")
    except KeyError:
        descriptor = pool.Add(proto).message_types_by_name["BatchingParameters"]
    return message_factory.GetMessageClass(descriptor)


def test_the_batching_parameters_parse_and_fit_the_clients_batches():
    config_map = one(render(BASE), "ConfigMap", "tf-serving-config")
    params = text_format.Parse(config_map["data"]["batching_parameters.txt"], batching_parameters_type()())
    assert params.enable_large_batch_splitting.value
    assert params.max_execution_batch_size.value <= params.max_batch_size.value
    assert params.max_batch_size.value >= 16  # the client's default --batch-size goes through unsplit
    assert params.batch_timeout_micros.value <= 10_000
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_size: 32", batching_parameters_type()())  # a wrapper, not a scalar
    assert 'enable: true' in config_map["data"]["monitoring.txt"]


def test_the_gcs_models_config_serves_the_same_versions_and_labels_as_pets_build():
    config_map = [c for c in render(OVERLAYS / "gcs-model") if c["metadata"]["name"].startswith("tf-serving-models")]
    parsed = text_format.Parse(config_map[0]["data"]["models.config"], model_server_config_pb2.ModelServerConfig())
    model = parsed.model_config_list.config[0]
    assert model.base_path.startswith("gs://")
    expected = pets_server_config(ROOT / "pets", VERSION_SIZES)
    expected.model_config_list.config[0].base_path = model.base_path
    assert parsed == expected
