// Stand-in for monis.app/mlog, which the Go module proxy refuses to serve (see ../README.md).
module monis.app/mlog

go 1.21

require (
	github.com/go-logr/logr v1.2.0
	k8s.io/klog/v2 v2.100.1
)
