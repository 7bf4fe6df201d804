package layercrypt

// Internals the external tests look at.
var HasPlainDigest = hasPlainDigest
