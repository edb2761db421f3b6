package org.lponet.desktop;

import static org.lponet.core.Goldens.*;

import com.google.ai.edge.litert.Accelerator;
import com.google.ai.edge.litert.CompiledModel;
import com.google.ai.edge.litert.LiteRtException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.lponet.core.BlazeFace;
import org.lponet.core.BoxMapping;
import org.lponet.core.CandidateCheck;
import org.lponet.core.ConfirmedDetection;
import org.lponet.core.DecodeSettings;
import org.lponet.core.ZoomOut;
import org.lponet.demo.engine.FacePipeline;
import org.lponet.demo.engine.TfliteBlazeFace;
import org.lponet.demo.engine.TfliteLandmarkModel;

/**
 * The app's engine built from the exported assets exactly as LponetEngine.kt does (same
 * sidecar fields, same classes), on the desktop CompiledModel (CPU, as the app without GPU).
 */
final class AppAssets implements AutoCloseable {
  /** LponetEngine.SIDECAR_FORMAT: the only sidecar layout the engine reads. */
  static final int SIDECAR_FORMAT = 1;

  final Map<String, Object> sidecar;
  final TfliteLandmarkModel model;
  final FacePipeline pipeline;
  private final List<CompiledModel> models = new ArrayList<>();

  AppAssets(Path assets) throws LiteRtException {
    this(assets, "model");
  }

  /** {@code which}: the sidecar's "model" (CPU, int8) or "gpu_model" (float) entry. */
  AppAssets(Path assets, String which) throws LiteRtException {
    sidecar = jsonFile(assets.resolve("lponet_android.json"));
    Object format = sidecar.get("format");
    if (!(format instanceof Number) || ((Number) format).doubleValue() != SIDECAR_FORMAT) {
      throw new IllegalArgumentException("lponet_android.json: sidecar format " + format
          + ", this app reads format " + SIDECAR_FORMAT
          + ": remake the assets with the tools/export_assets.py of this app's checkout");
    }
    Map<String, Object> det = map(sidecar.get("detector"));
    List<TfliteBlazeFace> detectors = new ArrayList<>();
    for (Object o : list(det.get("models"))) {
      Map<String, Object> m = map(o);
      CompiledModel cm = cpu(assets.resolve((String) m.get("file")), 2);
      detectors.add(new TfliteBlazeFace(cm, BlazeFace.Spec.valueOf((String) m.get("spec")),
          (float) dbl(m.get("score_threshold")), (float) dbl(det.get("iou_threshold"))));
    }
    ConfirmedDetection confirm = confirmed(det.get("confirm"));
    Map<String, Object> z = det.get("zoom_out") == null ? null : map(det.get("zoom_out"));
    ZoomOut zoomOut = z == null ? null : new ZoomOut(dbl(z.get("pad")), (int) dbl(z.get("fill")),
        z.get("rerun_below") == null ? Double.NaN : dbl(z.get("rerun_below")),
        z.get("max_side") == null ? 0 : (int) dbl(z.get("max_side")));
    ConfirmedDetection zoomConfirm = z == null ? null : confirmed(z.get("confirm"));
    Map<String, BoxMapping> mappings = new HashMap<>();
    for (Map.Entry<String, Object> e : map(sidecar.get("box_mappings")).entrySet()) {
      Map<String, Object> m = map(e.getValue());
      Object w = m.get("keypoint_weights");
      Object guard = m.get("max_size_deviation");
      mappings.put(e.getKey(), new BoxMapping(dbl(m.get("dx")), dbl(m.get("dy")), dbl(m.get("sx")),
          dbl(m.get("sy")), w == null ? null : doubles2(w), guard == null ? Double.NaN : dbl(guard)));
    }
    Map<String, Object> mj = map(sidecar.get(which));
    model = new TfliteLandmarkModel(cpu(assets.resolve((String) mj.get("file")), 2), quant(mj));
    Map<String, Object> an = analyzer();
    Map<String, Object> dec = map(mj.get("decode"));
    pipeline = new FacePipeline(detectors, confirm, zoomOut, zoomConfirm, mappings, model,
        DecodeSettings.of((String) dec.get("decoder"), dbl(dec.get("heatmap_scale")), dbl(dec.get("sigma"))),
        (float) dbl(an.get("score_threshold")),
        (int) dbl(an.get("max_faces")), (Boolean) an.get("refine"),
        (float) dbl(an.get("refine_min_confidence")), (float) dbl(an.get("refine_iou")),
        (int) dbl(an.get("refine_passes")), candidateCheck(an.get("candidate_check")));
  }

  /** The sidecar's "analyzer.candidate_check" (null: off). */
  static CandidateCheck candidateCheck(Object json) {
    if (json == null) {
      return null;
    }
    Map<String, Object> c = map(json);
    return new CandidateCheck((int) dbl(c.get("model")), dbl(c.get("candidate_score")),
        (int) dbl(c.get("max_candidates")), dbl(c.get("min_confidence")), dbl(c.get("max_visible")),
        dbl(c.get("same_face_iou")));
  }

  /** A sidecar "confirm" entry (null: none). */
  private static ConfirmedDetection confirmed(Object json) {
    if (json == null) {
      return null;
    }
    Map<String, Object> c = map(json);
    return new ConfirmedDetection(dbl(c.get("accept")), dbl(c.get("low")),
        dbl(c.get("confirm_threshold")), dbl(c.get("small_face")));
  }

  private CompiledModel cpu(Path file, int threads) throws LiteRtException {
    CompiledModel.Options o = new CompiledModel.Options(Accelerator.CPU);
    o.setCpuOptions(new CompiledModel.CpuOptions(threads, null, null));
    CompiledModel m = CompiledModel.create(file.toString(), o);
    models.add(m);
    return m;
  }

  /** Scale and zero point of each int8 tensor of a sidecar model entry. */
  static Map<String, TfliteLandmarkModel.Quant> quant(Map<String, Object> modelJson) {
    Map<String, TfliteLandmarkModel.Quant> q = new HashMap<>();
    for (Map.Entry<String, Object> e : map(modelJson.get("tensors")).entrySet()) {
      Map<String, Object> t = map(e.getValue());
      if ("int8".equals(t.get("dtype"))) {
        q.put(e.getKey(), new TfliteLandmarkModel.Quant(
            (float) dbl(t.get("scale")), (int) dbl(t.get("zero_point"))));
      }
    }
    return q;
  }

  Map<String, Object> model() {
    return map(sidecar.get("model"));
  }

  Map<String, Object> analyzer() {
    return map(sidecar.get("analyzer"));
  }

  @Override
  public void close() {
    for (CompiledModel m : models) {
      m.close();
    }
  }
}
