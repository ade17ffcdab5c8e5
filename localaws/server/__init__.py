"""localaws's AWS: moto's server and every patch that makes it answer as AWS does."""
