"""Hybrid EKS/ECS: Kubernetes endpoints exported to Cloud Map, Cloud Map instances imported
into Kubernetes. The mapping and diff modules are pure (no boto3, no kopf)."""
