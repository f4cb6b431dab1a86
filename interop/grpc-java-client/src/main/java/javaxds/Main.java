package javaxds;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A real proxyless grpc-java xDS client (io.grpc:grpc-xds registers the xds name resolver through the
 * service loader; GRPC_XDS_BOOTSTRAP is read from the environment), driven by JSON lines for interop
 * tests of an xDS control plane:
 *
 * <p>one JSON request per stdin line {id, target, count, deadlineMs, budgetMs, metadata?}; one JSON
 * answer per stdout line {id, answers: {backendId: n}, codes: {CODE: n}, errors: [..first 3..],
 * errorCount, notAttempted}: calls (with the request's metadata as headers) are
 * sequential unary /echo.Echo/Say with raw bytes ("hello"), each with deadlineMs, and none is started
 * once budgetMs has passed (those count as errors too). One ManagedChannel per target, kept across
 * batches. Exits when stdin closes.
 *
 * <p>Calls go through futureUnaryCall, not blockingUnaryCall: grpc-java's blocking stub can park its
 * caller forever in ThreadlessExecutor.waitAndDrain, deadline or not (seen here with grpc-java 1.85.1
 * after an EDS update; grpc-java issues 12456 and 12648). A call still open HUNG_AFTER_MS past its
 * deadline is cancelled and counted under the code "HUNG", so one stuck call never stalls the driver.
 *
 * <p>JAVAXDS_LOG=FINEST (any java.util.logging level) logs the logger JAVAXDS_LOGGER (default
 * io.grpc.xds) to stderr.
 */
public final class Main {
  private static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw Status.INTERNAL.withDescription("reading the response").withCause(e).asRuntimeException();
      }
    }
  };

  private static final MethodDescriptor<byte[], byte[]> SAY = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("echo.Echo/Say")
      .setRequestMarshaller(RAW)
      .setResponseMarshaller(RAW)
      .build();

  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.UTF_8);
  /** How long past its deadline a call may stay open before it counts as hung. */
  private static final long HUNG_AFTER_MS = 2000;
  private static final Map<String, ManagedChannel> CHANNELS = new HashMap<>();
  /** Held so that java.util.logging does not drop the configured logger. */
  private static Logger logRoot;

  private Main() {}

  private static ManagedChannel channelFor(String target) {
    return CHANNELS.computeIfAbsent(target,
        t -> Grpc.newChannelBuilder(t, InsecureChannelCredentials.create()).build());
  }

  /** "CODE: description" as xds-client.mjs prints it, plus the cause (grpc-java keeps it apart). */
  private static String describe(Status s) {
    String d = s.getDescription() == null ? "" : s.getDescription();
    if (s.getCause() != null) d += (d.isEmpty() ? "" : " ") + "(cause: " + s.getCause() + ")";
    return s.getCode().name() + ": " + d;
  }

  private static long num(JsonObject o, String k, long dflt) {
    JsonElement e = o.get(k);
    return e == null || e.isJsonNull() ? dflt : e.getAsLong();
  }

  private static void configureLogging() {
    String level = System.getenv("JAVAXDS_LOG");
    if (level == null || level.isEmpty()) return;
    String name = System.getenv().getOrDefault("JAVAXDS_LOGGER", "io.grpc.xds");
    logRoot = Logger.getLogger(name);
    logRoot.setLevel(Level.parse(level));
    ConsoleHandler h = new ConsoleHandler(); // stderr
    h.setLevel(Level.ALL);
    logRoot.addHandler(h);
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    configureLogging();
    Gson gson = new Gson();
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      JsonObject req;
      try {
        req = JsonParser.parseString(line).getAsJsonObject();
      } catch (RuntimeException e) {
        continue;
      }
      Channel ch = channelFor(req.get("target").getAsString());
      JsonElement md = req.get("metadata");
      if (md != null && md.isJsonObject()) {
        Metadata headers = new Metadata();
        for (Map.Entry<String, JsonElement> e : md.getAsJsonObject().entrySet()) {
          headers.put(Metadata.Key.of(e.getKey(), Metadata.ASCII_STRING_MARSHALLER), e.getValue().getAsString());
        }
        ch = ClientInterceptors.intercept(ch, MetadataUtils.newAttachHeadersInterceptor(headers));
      }
      long count = num(req, "count", 1);
      long deadlineMs = num(req, "deadlineMs", 3000);
      long budgetMs = num(req, "budgetMs", 10000);
      Map<String, Integer> answers = new LinkedHashMap<>();
      Map<String, Integer> codes = new LinkedHashMap<>();
      List<String> errors = new ArrayList<>();
      long end = System.currentTimeMillis() + budgetMs;
      long i = 0;
      for (; i < count && System.currentTimeMillis() < end; i++) {
        long ms = Math.max(1, Math.min(deadlineMs, end - System.currentTimeMillis()));
        ListenableFuture<byte[]> call = ClientCalls.futureUnaryCall(
            ch.newCall(SAY, CallOptions.DEFAULT.withDeadlineAfter(ms, TimeUnit.MILLISECONDS)), HELLO);
        try {
          byte[] r = call.get(ms + HUNG_AFTER_MS, TimeUnit.MILLISECONDS);
          answers.merge(new String(r, StandardCharsets.UTF_8), 1, Integer::sum);
          codes.merge("OK", 1, Integer::sum);
        } catch (ExecutionException e) {
          Status st = Status.fromThrowable(e.getCause());
          errors.add(describe(st));
          codes.merge(st.getCode().name(), 1, Integer::sum);
        } catch (TimeoutException e) {
          call.cancel(true);
          errors.add("HUNG: grpc-java did not end the call within " + HUNG_AFTER_MS + " ms of its " + ms + " ms deadline");
          codes.merge("HUNG", 1, Integer::sum);
        }
      }
      long notAttempted = count - i;
      int callErrors = errors.size();
      if (notAttempted > 0) errors.add(notAttempted + " calls not attempted within " + budgetMs + " ms");
      JsonObject res = new JsonObject();
      res.add("id", req.get("id"));
      res.add("answers", gson.toJsonTree(answers));
      res.add("codes", gson.toJsonTree(codes));
      res.add("errors", gson.toJsonTree(errors.subList(0, Math.min(3, errors.size()))));
      res.addProperty("errorCount", callErrors + notAttempted);
      res.addProperty("notAttempted", notAttempted);
      out.println(gson.toJson(res));
      out.flush();
    }
    for (ManagedChannel ch : CHANNELS.values()) ch.shutdownNow();
    System.exit(0);
  }
}
