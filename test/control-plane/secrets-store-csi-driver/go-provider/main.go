// A provider served by grpc-go on a unix socket, for the tests and benches of the driver's provider client:
// the gRPC server most providers run. Mount answers from the request's attributes (JSON):
//   files  number of files (default 1), named file-<i>
//   size   bytes per file (default 16), byte i of a file being i % 251
//   code   a gRPC status code to fail with instead, with `message` as its status message
//   delay  milliseconds to wait before answering (the call's cancellation ends the wait)
// Usage: go-provider <socket path>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

type provider struct {
	v1alpha1.UnimplementedCSIDriverProviderServer
}

func (provider) Version(context.Context, *v1alpha1.VersionRequest) (*v1alpha1.VersionResponse, error) {
	return &v1alpha1.VersionResponse{Version: "v1alpha1", RuntimeName: "go-provider", RuntimeVersion: "1.0.0"}, nil
}

func (provider) Mount(ctx context.Context, req *v1alpha1.MountRequest) (*v1alpha1.MountResponse, error) {
	attributes := map[string]string{}
	if err := json.Unmarshal([]byte(req.GetAttributes()), &attributes); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "attributes: %v", err)
	}
	number := func(name string, fallback int) int {
		if value, err := strconv.Atoi(attributes[name]); err == nil {
			return value
		}
		return fallback
	}
	if delay := number("delay", 0); delay > 0 {
		select {
		case <-time.After(time.Duration(delay) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if code := number("code", 0); code != 0 {
		return nil, status.Error(codes.Code(code), attributes["message"])
	}
	response := &v1alpha1.MountResponse{}
	size := number("size", 16)
	for i := 0; i < number("files", 1); i++ {
		contents := make([]byte, size)
		for j := range contents {
			contents[j] = byte(j % 251)
		}
		id := fmt.Sprintf("file-%d", i)
		response.Files = append(response.Files, &v1alpha1.File{Path: id, Mode: 0o644, Contents: contents})
		response.ObjectVersion = append(response.ObjectVersion, &v1alpha1.ObjectVersion{Id: id, Version: "1"})
	}
	return response, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-provider <socket path>")
		os.Exit(2)
	}
	listener, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server := grpc.NewServer()
	v1alpha1.RegisterCSIDriverProviderServer(server, provider{})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Stop()
	}()
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
