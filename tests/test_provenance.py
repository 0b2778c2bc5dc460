"""What results.json says beyond the numbers: threads, versions, device, processes, resumptions."""

import json
import platform

import torch

from ctc_plugin.utils.provenance import collect_provenance, package_version


def test_provenance_names_threads_versions_device_and_resumptions(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    provenance = collect_provenance(torch.device("cpu"), world_size=2, resumptions=1)
    assert json.loads(json.dumps(provenance)) == provenance  # plain JSON values
    assert provenance["omp_num_threads"] == "3" and provenance["mkl_num_threads"] is None
    assert provenance["torch_threads"] == torch.get_num_threads()
    assert provenance["torch_interop_threads"] == torch.get_num_interop_threads()
    assert provenance["torch"] == str(torch.__version__) and provenance["python"] == platform.python_version()
    assert provenance["numpy"] == package_version("numpy")
    assert (provenance["device"], provenance["world_size"], provenance["resumptions"]) == ("cpu", 2, 1)
    assert isinstance(provenance["device_name"], str)
    assert package_version("no-such-distribution-ctc") is None
