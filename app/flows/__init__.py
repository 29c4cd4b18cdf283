"""Use cases that touch several domains. Domain services never import each other in a circle;
flows import services, and nothing in a domain imports a flow."""
