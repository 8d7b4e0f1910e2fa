"""The kmsrotate: markers of ebs_kms_migrate's work in progress."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import SwapRecord


def test_swap_record_survives_its_tag():
    record = SwapRecord("i-1", "/dev/sdf", True, "running")
    decoded = SwapRecord.decode(record.encode())
    assert (decoded.instance_id, decoded.device, decoded.delete_on_termination, decoded.instance_state) == (
        "i-1", "/dev/sdf", True, "running")
    assert SwapRecord.decode("garbage") is None
