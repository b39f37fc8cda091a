"""The app's entry points that are not HTTP: SQS queues, DynamoDB streams and schedules.
Each module turns an event into calls on the services (chalicelib/services), as the routes
in chalicelib/api do for requests."""
