"""The server's routes, one module per API family."""
