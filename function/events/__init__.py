"""Event adapters: one file per shape of event. Each turns its transport's deliveries into
`function.core.messages.Envelope`s (or, for Lambda's HTTP shapes, into ASGI calls) and back
into acknowledgements, and sends results with its own client. Like Mangum's handlers, each
can say whether an event is its own (`can_handle`): the Lambda entry point asks each in turn.
"""
