"""Every reason the operator gives: condition reasons and Event reasons, one constant each.

One CamelCase word per concept, the same in status conditions, Events, logs and the CLI's
output; people, kstatus and docs/health.md read them, so a reason is renamed here or not at all.
"""

from __future__ import annotations

# A step's outcome, the reason of its conditions when nothing more precise is known -----------
# (reconcile/result.Outcome's values)
IN_SYNC = "InSync"
WAITING = "Waiting"
BLOCKED = "Blocked"
REFUSED = "Refused"
FAILED = "Failed"
ERROR = "Error"
# AWS was changed outside sd-operator and spec.driftPolicy (or spec.driftFields) says Report.
DRIFT_REPORTED = "DriftReported"
GONE = "Gone"

# A step under way ------------------------------------------------------------------------------
# The create request's id is being recorded in status before the create is sent.
RECORDING_REQUEST = "RecordingRequest"
OPERATION_PENDING = "OperationPending"
# A Cloud Map operation failed without an error code.
OPERATION_FAILED = "OperationFailed"
# AWS did not reflect the changes made within a step's rounds.
NOT_CONVERGING = "NotConverging"
DELETING = "Deleting"
# An export's instance registrations are still under way (hybrid/exporter.py).
PENDING = "Pending"

# The plan refuses the spec (Stalled, Terminal) -----------------------------------------------
REASON_IMMUTABLE = "ImmutableField"
REASON_INVALID_FOR_NAMESPACE = "InvalidForNamespace"
REASON_NAMESPACE_NOT_EMPTY = "NamespaceNotEmpty"
REASON_SERVICE_IN_USE = "ServiceInUse"
# The manifest does not pass its CRD.
INVALID_SPEC = "InvalidSpec"
# ECS
REASON_UNKNOWN_PORT_NAME = "UnknownPortName"
REASON_INVALID_TIMEOUT = "InvalidTimeout"
REASON_CONTROLLER_UNSUPPORTED = "DeploymentControllerUnsupported"
REASON_INVALID_REGISTRY = "InvalidRegistry"
REASON_NAMESPACE_REGION = "NamespaceRegionMismatch"
# A namespace another account shares through AWS RAM (docs/tenancy.md, "Shared namespaces"):
# its share lacks the RAM permission Service Connect needs, or our VPC is not associated with
# its private hosted zone.
SHARE_PERMISSION_MISSING = "SharePermissionMissing"
VPC_NOT_ASSOCIATED = "VpcNotAssociated"
# No DiscoveryGrant selecting its Kubernetes namespace allows what it declares (model/grants.py):
# nothing is read or changed in AWS until a grant does.
NOT_GRANTED = "NotGranted"
# The operator could not assume the IAM role its DiscoveryGrant names (spec.aws.roleArn): the
# message names the role and AWS's error; retried, backing off, like other AWS errors.
ASSUME_ROLE_FAILED = "AssumeRoleFailed"

# Ownership: blocks only a person can lift --------------------------------------------------
# Someone else's marker is on it: nothing is changed, whatever adoptionPolicy says.
REASON_OWNED_ELSEWHERE = "OwnedElsewhere"
# An ECS service's registry or Service Connect was set outside sd-operator: adoptionPolicy: Adopt
# takes it over.
REASON_ADOPTION_REQUIRED = "AdoptionRequired"
# Ours by name, without a cluster id yet: the id is written, and read back before anything else.
CLAIMING_CLUSTER_ID = "ClaimingClusterId"
REASON_ALREADY_EXISTS = "AlreadyExists"
# Another resource, earlier, declares the same AWS resource (reconcile/conflicts.py).
REASON_CONFLICT = "Conflict"

# Waiting for something on its way (blocks) ---------------------------------------------------
REASON_NAMESPACE_NOT_FOUND = "NamespaceNotFound"
REASON_NAMESPACE_NOT_OWNED = "NamespaceNotOwned"
# Its CloudMapNamespace exists and its AWS namespace is being created: no id to create in yet.
REASON_NAMESPACE_NOT_READY = "NamespaceNotReady"
REASON_ECS_SERVICE_NOT_FOUND = "EcsServiceNotFound"
REASON_CLOUD_MAP_SERVICE_PENDING = "CloudMapServicePending"
# An ECS deployment (ours or someone else's) is rolling out: no UpdateService until it ends.
DEPLOYMENT_IN_PROGRESS = "DeploymentInProgress"

# ECS undid a deployment our UpdateService started (Stalled until a new generation or a refresh:
# sending it again would only fail again, replacing every task each time) ---------------------
DEPLOYMENT_ROLLED_BACK = "DeploymentRolledBack"
DEPLOYMENT_FAILED = "DeploymentFailed"

# The hybrid paths (spec.endpoints, CloudMapImport) -------------------------------------------
INSTANCES_PENDING = "InstancesPending"
ENDPOINTS_REFUSED = "EndpointsRefused"
# The operator runs with --no-export: a ServiceDiscovery with spec.endpoints is refused.
EXPORT_DISABLED = "ExportDisabled"
SERVICE_NOT_OWNED = "ServiceNotOwned"
SERVICE_NOT_FOUND = "ServiceNotFound"
# A CloudMapImport reads only the Cloud Map namespaces --import-from-namespaces lists.
NAMESPACE_NOT_PERMITTED = "NamespaceNotPermitted"
# The API server refused a write of the import's Service or EndpointSlice (409/422).
WRITE_REJECTED = "WriteRejected"
# A CloudMapImport's objects match the healthy instances.
IMPORTED = "Imported"

# spec.managementPolicy: Observe (reconcile/management.py): AWS differs from the spec, or holds
# nothing of it; nothing is changed either way (Stalled).
OBSERVED_DIFFERENT = "ObservedDifferent"
OBSERVED_MISSING = "ObservedMissing"

# The annotation sd-operator.io/paused: "true": no AWS call for the resource (the Paused
# condition, and the Events when it is set and removed).
PAUSED = "Paused"
RESUMED = "Resumed"

# The Drifted condition -------------------------------------------------------------------------
CORRECTING = "Correcting"
CORRECTED = "Corrected"
NO_DRIFT = "NoDrift"

# The Advisory condition ------------------------------------------------------------------------
VPC_UNKNOWN = "VpcUnknown"
TTL_ABOVE_MAX = "TtlAboveMax"

# A condition that does not hold (Reconciling, Stalled, Terminal, Advisory all False).
NONE = "None"

# Event reasons ---------------------------------------------------------------------------------
AWS_CHANGED = "AwsChanged"
DRIFT_DETECTED = "DriftDetected"
KUBERNETES_CHANGED = "KubernetesChanged"

# Drift history: what was done about a drift (status.drift[].action).
ACTION_CORRECTED = CORRECTED
ACTION_REPORTED = "Reported"
