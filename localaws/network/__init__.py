"""localaws's load balancer data plane: the prober, the proxy and its metrics."""
