"""What remote scoring needs on our side: the score cache and the request-rate limiter."""
