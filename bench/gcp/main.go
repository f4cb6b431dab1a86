// A go-control-plane baseline for xdskit's fan-out benchmark: serves the same
// world (read from a file of the exact resource bytes xdskit serves) over ADS
// with go-control-plane's SnapshotCache or LinearCache, so the two can be
// timed against the same load client in the same run.
//
// Protocol on stdin/stdout, one line each: it prints "port <n>" when
// listening; "set" installs the world and prints "set <ms>"; "stats" prints
// "stats <peak-rss-bytes>"; EOF stops it.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
)

// oneGroup puts every node in one snapshot, as xdskit's bench puts every stream in one node group.
type oneGroup struct{}

func (oneGroup) ID(*core.Node) string { return "bench" }

// readWorld reads type URL → resources from the file the bench writes:
// repeated [u32 type-url length][type url][u32 count]{[u32 length][Any bytes]}.
func readWorld(path string) (map[string][]types.Resource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	u32 := func() (uint32, error) {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint32(b[:]), nil
	}
	world := map[string][]types.Resource{}
	for {
		n, err := u32()
		if err == io.EOF {
			return world, nil
		} else if err != nil {
			return nil, err
		}
		tu := make([]byte, n)
		if _, err := io.ReadFull(r, tu); err != nil {
			return nil, err
		}
		count, err := u32()
		if err != nil {
			return nil, err
		}
		for i := uint32(0); i < count; i++ {
			size, err := u32()
			if err != nil {
				return nil, err
			}
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			a := &anypb.Any{}
			if err := protoUnmarshal(b, a); err != nil {
				return nil, fmt.Errorf("resource %d of %s: %v", i, tu, err)
			}
			m, err := a.UnmarshalNew()
			if err != nil {
				return nil, fmt.Errorf("resource %d of %s: %v", i, tu, err)
			}
			world[string(tu)] = append(world[string(tu)], m.(types.Resource))
		}
	}
}

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb * 1024
		}
	}
	return -1
}

func main() {
	worldPath := flag.String("world", "", "the world file the bench wrote")
	mode := flag.String("cache", "snapshot", "snapshot (SnapshotCache) or linear (LinearCache per type)")
	flag.Parse()
	world, err := readWorld(*worldPath)
	if err != nil {
		log.Fatalf("gcp-baseline: reading the world: %v", err)
	}
	ctx := context.Background()
	var c cache.Cache
	var set func() error
	switch *mode {
	case "snapshot":
		sc := cache.NewSnapshotCache(true, oneGroup{}, nil)
		c = sc
		set = func() error {
			snap, err := cache.NewSnapshot("1", map[resource.Type][]types.Resource{
				resource.ClusterType:  world[resource.ClusterType],
				resource.EndpointType: world[resource.EndpointType],
				resource.ListenerType: world[resource.ListenerType],
				resource.RouteType:    world[resource.RouteType],
			})
			if err != nil {
				return err
			}
			return sc.SetSnapshot(ctx, "bench", snap)
		}
	case "linear":
		mux := &cache.MuxCache{Classify: func(r *cache.Request) string { return r.GetTypeUrl() }, ClassifyDelta: func(r *cache.DeltaRequest) string { return r.GetTypeUrl() }, Caches: map[string]cache.Cache{}}
		linear := map[string]*cache.LinearCache{}
		for _, t := range []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType} {
			lc := cache.NewLinearCache(t)
			linear[t] = lc
			mux.Caches[t] = lc
		}
		c = mux
		set = func() error {
			for t, lc := range linear {
				m := map[string]types.Resource{}
				for _, r := range world[t] {
					m[cache.GetResourceName(r)] = r
				}
				lc.SetResources(m)
			}
			return nil
		}
	default:
		log.Fatalf("gcp-baseline: -cache must be snapshot or linear, got %q", *mode)
	}
	srv := server.NewServer(ctx, c, nil)
	gs := grpc.NewServer(grpc.MaxConcurrentStreams(100000), grpc.MaxSendMsgSize(1<<30))
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("gcp-baseline: %v", err)
	}
	go gs.Serve(lis)
	fmt.Printf("port %d\n", lis.Addr().(*net.TCPAddr).Port)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "set":
			t0 := time.Now()
			if err := set(); err != nil {
				log.Fatalf("gcp-baseline: set: %v", err)
			}
			fmt.Printf("set %.3f\n", float64(time.Since(t0).Microseconds())/1000)
		case "stats":
			fmt.Printf("stats %d\n", peakRSS())
		}
	}
	gs.Stop()
}
