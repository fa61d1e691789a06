"""The `sophia` operator CLI."""
