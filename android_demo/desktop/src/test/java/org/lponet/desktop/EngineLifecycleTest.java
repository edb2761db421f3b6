package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import com.google.ai.edge.litert.Accelerator;
import com.google.ai.edge.litert.CompiledModel;
import com.google.ai.edge.litert.LiteRtException;
import com.google.ai.edge.litert.TensorBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.lponet.core.BlazeFace;
import org.lponet.core.Detection;
import org.lponet.core.ModelOutputs;
import org.lponet.core.RgbImage;
import org.lponet.demo.engine.TfliteBlazeFace;
import org.lponet.demo.engine.TfliteLandmarkModel;

/**
 * The engine classes on the app's real models: one instance shared by two threads gives each
 * caller its own input's outputs (runs are serialised), {@code close()} releases the LiteRT
 * buffers they created, and a constructor that refuses a model releases what it had created.
 */
class EngineLifecycleTest {
  private static final int RUNS_PER_THREAD = 12;
  private final Map<String, Object> g = json("e2e.json");
  private final Path assets = Path.of((String) g.get("assets"));
  private final List<CompiledModel> models = new ArrayList<>();

  @BeforeEach
  void noLeftovers() {
    models.clear();
  }

  @AfterEach
  void close() {
    for (CompiledModel m : models) {
      m.close();
    }
  }

  private CompiledModel open(String file) throws LiteRtException {
    CompiledModel.Options o = new CompiledModel.Options(Accelerator.CPU);
    o.setCpuOptions(new CompiledModel.CpuOptions(1, null, null));
    CompiledModel m = CompiledModel.create(assets.resolve(file).toString(), o);
    models.add(m);
    return m;
  }

  private Map<String, Object> modelEntry() {
    return map(jsonFile(assets.resolve("lponet_android.json")).get("model"));
  }

  private static float[] noiseCrop(long seed, int s) {
    Random r = new Random(seed);
    float[] c = new float[s * s * 3];
    for (int i = 0; i < c.length; i++) {
      c[i] = r.nextInt(256);
    }
    return c;
  }

  /** Each task's results, run by two threads released together. */
  private static <T> List<T> inTwoThreads(Callable<T> a, Callable<T> b) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    CountDownLatch start = new CountDownLatch(2);
    try {
      List<Future<T>> fs = new ArrayList<>();
      for (Callable<T> c : List.of(a, b)) {
        fs.add(pool.submit(() -> {
          start.countDown();
          start.await();
          return c.call();
        }));
      }
      List<T> out = new ArrayList<>();
      for (Future<T> f : fs) {
        out.add(f.get()); // rethrows a run's exception
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void oneLandmarkModelSharedByTwoThreadsGivesEachCallerItsOwnOutputs() throws Exception {
    Map<String, Object> entry = modelEntry();
    TfliteLandmarkModel model =
        new TfliteLandmarkModel(open((String) entry.get("file")), AppAssets.quant(entry));
    try {
      int s = model.inputSize();
      float[][] crops = {noiseCrop(1, s), noiseCrop(2, s)};
      ModelOutputs[] ref = {model.run(crops[0]), model.run(crops[1])};
      assertTrue(!java.util.Arrays.equals(ref[0].heatmaps, ref[1].heatmaps), "distinct inputs");
      List<Callable<Integer>> tasks = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        final int k = t;
        tasks.add(() -> {
          for (int i = 0; i < RUNS_PER_THREAD; i++) {
            ModelOutputs o = model.run(crops[k]);
            assertArrayEquals(ref[k].heatmaps, o.heatmaps, 0f, "thread " + k + " run " + i);
            assertArrayEquals(ref[k].pose, o.pose, 0f, "thread " + k + " run " + i);
            assertArrayEquals(ref[k].occlusion, o.occlusion, 0f, "thread " + k + " run " + i);
          }
          return RUNS_PER_THREAD;
        });
      }
      assertEquals(List.of(RUNS_PER_THREAD, RUNS_PER_THREAD), inTwoThreads(tasks.get(0), tasks.get(1)));
    } finally {
      model.close();
    }
  }

  @Test
  void oneDetectorSharedByTwoThreadsGivesEachCallerItsOwnDetections() throws Exception {
    TfliteBlazeFace det = new TfliteBlazeFace(open("face_detection_back.tflite"), BlazeFace.Spec.BACK);
    try {
      RgbImage face = image(map(g.get("image")));
      byte[] noise = new byte[face.rgb.length];
      new Random(3).nextBytes(noise);
      RgbImage[] images = {face, new RgbImage(face.width, face.height, noise)};
      String[] ref = {describe(det.detect(images[0])), describe(det.detect(images[1]))};
      assertTrue(!ref[0].equals(ref[1]), "the two images give different detections: " + ref[0]);
      List<Callable<Integer>> tasks = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        final int k = t;
        tasks.add(() -> {
          for (int i = 0; i < RUNS_PER_THREAD; i++) {
            assertEquals(ref[k], describe(det.detect(images[k])), "thread " + k + " run " + i);
          }
          return RUNS_PER_THREAD;
        });
      }
      assertEquals(List.of(RUNS_PER_THREAD, RUNS_PER_THREAD), inTwoThreads(tasks.get(0), tasks.get(1)));
    } finally {
      det.close();
    }
  }

  private static String describe(List<Detection> ds) {
    StringBuilder b = new StringBuilder();
    for (Detection d : ds) {
      b.append(java.util.Arrays.toString(d.box)).append(' ').append(d.score).append("; ");
    }
    return b.toString();
  }

  @Test
  void closeReleasesTheBuffersAndLaterUseFailsClearly() throws Exception {
    int before = TensorBuffer.openCount();
    Map<String, Object> entry = modelEntry();
    TfliteLandmarkModel model =
        new TfliteLandmarkModel(open((String) entry.get("file")), AppAssets.quant(entry));
    TfliteBlazeFace det = new TfliteBlazeFace(open("face_detection_back.tflite"), BlazeFace.Spec.BACK);
    assertEquals(BlazeFace.Spec.BACK.defaultScoreThreshold, det.blazeFace().scoreThreshold,
        "the back model's default threshold (Python's 0.6, checked by BlazeFaceGoldenTest)");
    assertTrue(TensorBuffer.openCount() >= before + 6, "4 landmark + 2 detector buffers at least");
    model.close();
    det.close();
    det.close(); // idempotent
    assertEquals(before, TensorBuffer.openCount(), "buffers left open after close()");
    float[] crop = new float[model.inputSize() * model.inputSize() * 3];
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> model.run(crop));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    RgbImage img = image(map(g.get("image")));
    assertThrows(IllegalStateException.class, () -> det.infer(img));
  }

  /** The detector reuses its input tensor: what an inference allocates is its outputs. */
  @Test
  void detectorInferenceAllocatesOnlyItsOutputs() throws Exception {
    TfliteBlazeFace det = new TfliteBlazeFace(open("face_detection_back.tflite"), BlazeFace.Spec.BACK);
    try {
      byte[] b = new byte[1280 * 720 * 3];
      new Random(11).nextBytes(b);
      RgbImage frame = new RgbImage(1280, 720, b);
      det.infer(frame);
      long a0 = org.lponet.core.AllocationTest.allocated();
      det.infer(frame);
      long used = org.lponet.core.AllocationTest.allocated() - a0;
      long outputs = det.blazeFace().numAnchors() * 17L * 4; // regressors + logits
      assertTrue(used < outputs + org.lponet.core.AllocationTest.BUDGET,
          "TfliteBlazeFace.infer allocated " + used + " bytes; its outputs are " + outputs);
    } finally {
      det.close();
    }
  }

  @Test
  void aRefusedModelLeavesNoBufferOpen() throws Exception {
    int before = TensorBuffer.openCount();
    CompiledModel shortRange = open("face_detection_short_range.tflite");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new TfliteBlazeFace(shortRange, BlazeFace.Spec.BACK));
    assertTrue(e.getMessage().contains("not a BlazeFace"), e.getMessage());
    assertEquals(before, TensorBuffer.openCount(), "buffers of the refused model left open");
  }
}
