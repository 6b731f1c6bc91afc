"""Event adapters: one file per shape of event. Each turns its transport's deliveries into
`function.messages.Envelope`s and back into acknowledgements, and sends results with its
own client. Like Mangum's handlers, each can say whether an event is its own (`infer`)."""
