// Encodes a resource straight into its `google.protobuf.Any` bytes in one
// pass. An Any's `value` (field 2, bytes) and a message field 2 holding the
// resource are the same bytes on the wire, so a synthetic type
// `AnyOf { string type_url = 1; <Resource> value = 2; }` written by
// protobuf-es's own toBinary gives the Any without encoding the resource into
// a buffer of its own and copying it behind the type URL. A list of them,
// `AnyList { repeated AnyOf items = 1; }`, encodes many resources with one
// writer, whose buffer then grows a few times in all instead of several times
// for every resource.
import { type DescMessage, type Message, create, createFileRegistry, toBinary } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { BinaryReader } from "@bufbuild/protobuf/wire";

const utf8 = new TextEncoder();
const urlSizes = new Map<string, number>();

/** Bytes the Any's type_url field takes (none when empty). */
function typeUrlFieldSize(typeUrl: string): number {
  let size = urlSizes.get(typeUrl);
  if (size === undefined) {
    const len = utf8.encode(typeUrl).length;
    size = len === 0 ? 0 : 1 + (len < 128 ? 1 : len < 16384 ? 2 : 3) + len;
    if (urlSizes.size < 1024) urlSizes.set(typeUrl, size);
  }
  return size;
}

interface Wrappers {
  readonly one: DescMessage;
  readonly list: DescMessage;
}

const wrappers = new WeakMap<DescMessage, Wrappers>();
let made = 0;

function wrapperOf(schema: DescMessage): Wrappers {
  let w = wrappers.get(schema);
  if (w) return w;
  // A package and file of our own per wrapped type, so wrappers never clash.
  const pkg = `xdskit.internal.any${made++}`;
  const file = create(FileDescriptorProtoSchema, {
    name: `${pkg.replaceAll(".", "/")}.proto`,
    package: pkg,
    syntax: "proto3",
    dependency: [schema.file.proto.name],
    messageType: [
      {
        name: "AnyOf",
        field: [
          {
            name: "type_url",
            jsonName: "typeUrl",
            number: 1,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.STRING,
          },
          {
            name: "value",
            jsonName: "value",
            number: 2,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: `.${schema.typeName}`,
          },
        ],
      },
      {
        name: "AnyList",
        field: [
          {
            name: "items",
            jsonName: "items",
            number: 1,
            label: FieldDescriptorProto_Label.REPEATED,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: `.${pkg}.AnyOf`,
          },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => (name === schema.file.proto.name ? schema.file : undefined));
  const one = registry.getMessage(`${pkg}.AnyOf`);
  const list = registry.getMessage(`${pkg}.AnyList`);
  if (!one || !list) throw new Error(`cannot make the Any writer of ${schema.typeName}`);
  w = { one, list };
  wrappers.set(schema, w);
  return w;
}

/** An Any's bytes as an AnyOf wrote them: an empty message's value field dropped, as an Any leaves it out. */
function asAny(bytes: Uint8Array, typeUrl: string): Uint8Array {
  // A message field is written even when empty (tag, length 0); an Any's
  // empty bytes field is not written at all: an empty message's two bytes go.
  return bytes.length === typeUrlFieldSize(typeUrl) + 2 ? bytes.subarray(0, bytes.length - 2) : bytes;
}

// Resources encoded by one writer at a time: enough to spare the buffer's
// growth, few enough that the shared buffer stays small.
const BATCH = 1000;

/**
 * {@link encodeAsAny} of many messages of one type, each result a buffer of
 * its own. Throws what protobuf-es throws when one of them cannot be encoded
 * (the caller then encodes them one by one to say which).
 */
export function encodeAllAsAny(schema: DescMessage, typeUrl: string, messages: readonly Message[]): Uint8Array[] {
  const { one, list } = wrapperOf(schema);
  const out: Uint8Array[] = [];
  for (let from = 0; from < messages.length; from += BATCH) {
    const items = messages.slice(from, from + BATCH).map((value) => ({ $typeName: one.typeName, typeUrl, value }));
    const bytes = toBinary(list, { $typeName: list.typeName, items } as unknown as Message);
    // items = 1 (tag 0x0a), each a length and an AnyOf's bytes.
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      if (reader.uint32() !== 0x0a) throw new Error("the batched Any writer read back an unexpected field");
      // A copy: each resource keeps its own bytes, not the batch's buffer.
      out.push(asAny(reader.bytes().slice(), typeUrl));
    }
  }
  if (out.length !== messages.length) throw new Error("the batched Any writer read back a different count");
  return out;
}

/**
 * The bytes of `Any { type_url, value: toBinary(schema, message) }`, byte for
 * byte what protobuf-es writes for that Any, in one encoding pass.
 */
export function encodeAsAny(schema: DescMessage, typeUrl: string, message: Message): Uint8Array {
  const { one } = wrapperOf(schema);
  return asAny(toBinary(one, { $typeName: one.typeName, typeUrl, value: message } as unknown as Message), typeUrl);
}
