"""The Textual console of a running gateway: ``model-runtime console --url URL --api-key KEY``.

It talks to the gateway over HTTP only (:mod:`console.api`), never to the server's or the providers' code.
"""
