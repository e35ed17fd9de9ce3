package domains

// RetryAfterError is retryAfterError, for the tests.
const RetryAfterError = retryAfterError
