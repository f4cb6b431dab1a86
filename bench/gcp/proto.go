package main

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func protoUnmarshal(b []byte, a *anypb.Any) error { return proto.Unmarshal(b, a) }
