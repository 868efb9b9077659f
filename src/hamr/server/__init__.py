"""What runs the app: listening sockets, the HTTP protocol, the group-commit writer, the access
log and the background work."""
