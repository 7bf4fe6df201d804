module github.com/layercrypt/layercrypt/bindings/go

go 1.19

require (
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.0-rc2
)

// The tests also use github.com/containers/ocicrypt v1.0.3. In this
// repository they run in GOPATH mode against Debian's packages
// (run_tests.sh); in module mode, `go mod tidy` completes this file and
// writes go.sum.
