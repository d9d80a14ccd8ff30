"""The merchandisers' dashboard at ``/dashboard`` (server-rendered, scripts shipped inside)."""
