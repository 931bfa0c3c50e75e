"""Decision core: desired state, observed state, and the pure plan between them."""
