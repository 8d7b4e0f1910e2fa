"""EC2 fidelity: LaunchTime is the time the instance was last launched, as AWS documents.

AWS: "LaunchTime - The time that the instance was last launched": starting a
stopped instance moves it, stopping does not.
"""

import time


def test_starting_a_stopped_instance_moves_its_launch_time(aws):
    ec2 = aws.client("ec2")
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                    InstanceType="t3.micro")["Instances"][0]["InstanceId"]

    def launch_time():
        return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["LaunchTime"]

    first = launch_time()
    time.sleep(1.1)  # moto dates to the second: let the clock move on before the restart
    ec2.stop_instances(InstanceIds=[instance_id])
    assert launch_time() == first
    ec2.start_instances(InstanceIds=[instance_id])
    assert launch_time() > first
