package org.lponet.desktop;

import static org.lponet.core.Goldens.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.lponet.core.BlazeFace;
import org.lponet.core.BoxMapping;
import org.lponet.demo.engine.FacePipeline;
import org.lponet.demo.engine.TfliteBlazeFace;
import org.lponet.demo.engine.TfliteLandmarkModel;
import org.tensorflow.lite.Interpreter;

/**
 * The app's engine built from the exported assets exactly as LponetEngine.kt does (same
 * sidecar fields, same classes), on the desktop Interpreter.
 */
final class AppAssets implements AutoCloseable {
  final Map<String, Object> sidecar;
  final TfliteLandmarkModel model;
  final FacePipeline pipeline;
  private final List<Interpreter> interpreters = new ArrayList<>();

  AppAssets(Path assets) {
    sidecar = jsonFile(assets.resolve("lponet_android.json"));
    Map<String, Object> det = map(sidecar.get("detector"));
    List<TfliteBlazeFace> detectors = new ArrayList<>();
    for (Object o : list(det.get("models"))) {
      Map<String, Object> m = map(o);
      Interpreter it = new Interpreter(assets.resolve((String) m.get("file")).toFile(),
          new Interpreter.Options().setNumThreads(2));
      interpreters.add(it);
      detectors.add(new TfliteBlazeFace(it, BlazeFace.Spec.valueOf((String) m.get("spec")),
          (float) dbl(det.get("score_threshold")), (float) dbl(det.get("iou_threshold"))));
    }
    Map<String, BoxMapping> mappings = new HashMap<>();
    for (Map.Entry<String, Object> e : map(sidecar.get("box_mappings")).entrySet()) {
      Map<String, Object> m = map(e.getValue());
      Object w = m.get("keypoint_weights");
      mappings.put(e.getKey(), new BoxMapping(dbl(m.get("dx")), dbl(m.get("dy")), dbl(m.get("sx")),
          dbl(m.get("sy")), w == null ? null : doubles2(w)));
    }
    Interpreter lp = new Interpreter(assets.resolve((String) model().get("file")).toFile(),
        new Interpreter.Options().setNumThreads(2));
    interpreters.add(lp);
    model = new TfliteLandmarkModel(lp);
    pipeline = new FacePipeline(detectors, mappings, model, (float) dbl(analyzer().get("score_threshold")),
        (int) dbl(analyzer().get("max_faces")));
  }

  Map<String, Object> model() {
    return map(sidecar.get("model"));
  }

  Map<String, Object> analyzer() {
    return map(sidecar.get("analyzer"));
  }

  @Override
  public void close() {
    for (Interpreter it : interpreters) {
      it.close();
    }
  }
}
