// Pins the etcd-raft release the core ports, so `pnpm bench` can run
// etcd-raft's own Go benchmarks (from the module cache) as the baseline.
// There is no Go code here: do not `go mod tidy`, which would drop the
// requirement; go.sum also covers etcd-raft's test dependencies.
module github.com/raftbus/raftbus/bench/go-baseline

go 1.23

require go.etcd.io/raft/v3 v3.6.0

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	google.golang.org/protobuf v1.33.0 // indirect
)
