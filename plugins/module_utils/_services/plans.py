# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Resources kms_service_rekey does not change: what AWS requires to move each one to a new key.

RDS and Aurora, EFS, ECR, EKS secrets encryption, Backup vaults and
Redshift cannot change their key in place (or not without a cut-over this
module cannot make safely). Each is read to learn its key; under the source
key it gets a plan (the steps AWS requires) and a blocking dependent.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler


class PlanHandler(Handler):
    """A resource that gets a plan. Subclasses set SERVICE, REASON, STEPS and read_key()."""

    REASON = ""
    STEPS = ()

    def read(self):
        return Current(self.read_key(), {})

    def read_key(self):
        raise NotImplementedError

    def plan(self, current):
        return {"resource": self.job.arn, "service": self.SERVICE, "key_arn": self.job.keys.source.arn,
                "reason": self.REASON, "steps": list(self.STEPS)}

    def tags(self):
        # Nothing of these is changed by this module, so none carries its markers.
        return {}


class RdsInstancePlan(PlanHandler):
    SERVICE = "rds_instances"
    REASON = "An RDS DB instance's storage key cannot be changed."
    STEPS = ("take a snapshot (aws rds create-db-snapshot)",
             "copy it with the new key (aws rds copy-db-snapshot --kms-key-id <destination key ARN>)",
             "restore a new instance from the copy (restore-db-instance-from-db-snapshot)",
             "cut the application over to the new instance, then delete the old instance and its snapshots")

    def read_key(self):
        return self.job.client("rds").describe_db_instances(DBInstanceIdentifier=self.job.name, aws_retry=True)[
            "DBInstances"][0].get("KmsKeyId")


class RdsClusterPlan(PlanHandler):
    SERVICE = "rds_clusters"
    REASON = "An Aurora (or Multi-AZ) DB cluster's storage key cannot be changed."
    STEPS = ("take a cluster snapshot (aws rds create-db-cluster-snapshot)",
             "copy it with the new key (aws rds copy-db-cluster-snapshot --kms-key-id <destination key ARN>)",
             "restore a new cluster from the copy (restore-db-cluster-from-snapshot) and add its instances",
             "cut the application over, then delete the old cluster and its snapshots")

    def read_key(self):
        return self.job.client("rds").describe_db_clusters(DBClusterIdentifier=self.job.name, aws_retry=True)[
            "DBClusters"][0].get("KmsKeyId")


class EfsPlan(PlanHandler):
    SERVICE = "efs"
    REASON = "An EFS file system's key is fixed when it is created."
    STEPS = ("create a replication to a new file system encrypted with the new key "
             "(aws efs create-replication-configuration, destination KmsKeyId)",
             "when it is in sync, delete the replication (the copy becomes writable) and move the mount targets "
             "and clients to it",
             "delete the old file system; AWS Backup recovery points of it keep their own key")

    def read_key(self):
        return self.job.client("efs").describe_file_systems(FileSystemId=self.job.name, aws_retry=True)[
            "FileSystems"][0].get("KmsKeyId")


class EcrPlan(PlanHandler):
    SERVICE = "ecr"
    REASON = "An ECR repository's encryption settings are fixed when it is created."
    STEPS = ("create a new repository with encryption KMS and the new key "
             "(aws ecr create-repository --encryption-configuration encryptionType=KMS,kmsKey=<destination key ARN>)",
             "copy every image to it (pull and push, or a replication rule), repoint its users",
             "delete the old repository")

    def read_key(self):
        repository = self.job.client("ecr").describe_repositories(
            repositoryNames=[self.job.name], registryId=self.job.parsed["account_id"], aws_retry=True)[
            "repositories"][0]
        return (repository.get("encryptionConfiguration") or {}).get("kmsKey")


class EksPlan(PlanHandler):
    SERVICE = "eks"
    REASON = "EKS envelope encryption of Kubernetes secrets is irreversible: the cluster's key cannot be changed."
    STEPS = ("create a new cluster with secrets encryption under the new key (encryptionConfig provider keyArn)",
             "move the workloads and their secrets to it",
             "delete the old cluster; only then is the old key no longer needed")

    def read_key(self):
        configs = self.job.client("eks").describe_cluster(name=self.job.name, aws_retry=True)["cluster"].get(
            "encryptionConfig") or []
        return next((config.get("provider", {}).get("keyArn") for config in configs), None)


class BackupVaultPlan(PlanHandler):
    SERVICE = "backup"
    REASON = "A Backup vault's key is fixed when it is created; its recovery points keep it."
    STEPS = ("create a new vault under the new key (aws backup create-backup-vault --encryption-key-arn "
             "<destination key ARN>)",
             "copy the recovery points that must be kept into it (start-copy-job), point the backup plans at it",
             "delete the old vault's recovery points once their copies exist, then the vault")

    def read_key(self):
        return self.job.client("backup").describe_backup_vault(BackupVaultName=self.job.name, aws_retry=True).get(
            "EncryptionKeyArn")


class RedshiftPlan(PlanHandler):
    SERVICE = "redshift"
    REASON = ("Redshift changes a cluster's key only by migrating the cluster (ModifyCluster with a new KmsKeyId), "
              "which takes it read-only for the migration; this module does not start that.")
    STEPS = ("schedule a window: the cluster is read-only while Redshift migrates it",
             "aws redshift modify-cluster --cluster-identifier <cluster> --encrypted --kms-key-id <destination key ARN>",
             "snapshots made before keep the old key: copy the ones to keep, then delete them")

    def read_key(self):
        return self.job.client("redshift").describe_clusters(ClusterIdentifier=self.job.name, aws_retry=True)[
            "Clusters"][0].get("KmsKeyId")
