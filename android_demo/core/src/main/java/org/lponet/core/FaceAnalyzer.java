package org.lponet.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The per-face pipeline, the same steps as the Python {@code FaceAnalyzer}: landmark box
 * (from a detection through its {@link BoxMapping}, or given) -> 10% enlarged square crop ->
 * S x S float crop -> model -> heatmap decoding ({@link DecodeSettings}) -> back to image pixels;
 * pose -> rotation and Euler angles; occlusion -> per-landmark visibility and the mask.
 *
 * <p>Threads: the analyzer keeps no state between calls, so concurrent calls on one instance
 * are safe exactly when its {@link LandmarkModel}'s {@code run} is. The app's
 * {@code TfliteLandmarkModel} is (it serialises runs with a lock, so concurrent analyses wait
 * for each other's inference); a model without such a guard needs one analyzer and model per
 * thread. The app's {@code FacePipeline} and {@code FaceTrackingSession} are not thread-safe.
 */
public final class FaceAnalyzer {
  /** Channel of the occlusion softmax that is "visible face". */
  public static final int VISIBLE_CHANNEL = 1;
  private final LandmarkModel model;
  private final DecodeSettings decode;
  // The crop handed to the model, reused per thread (the model copies it, LandmarkModel.run).
  private static final ThreadLocal<float[]> CROP = ThreadLocal.withInitial(() -> new float[0]);

  /** With Python's default decoding ({@link DecodeSettings#DEFAULT}). */
  public FaceAnalyzer(LandmarkModel model) {
    this(model, DecodeSettings.DEFAULT);
  }

  public FaceAnalyzer(LandmarkModel model, DecodeSettings decode) {
    this.model = model;
    this.decode = decode;
  }

  public DecodeSettings decodeSettings() {
    return decode;
  }

  public LandmarkModel model() {
    return model;
  }

  /** Analyse the faces of detections, each mapped to a landmark box by {@code mapping}. */
  public List<Face> analyze(RgbImage image, List<Detection> detections, BoxMapping mapping) {
    List<Face> out = new ArrayList<>();
    for (Detection d : detections) {
      BoxMapping m = mapping == null ? BoxMapping.IDENTITY : mapping;
      out.add(analyzeBox(image, m.apply(d.box, d.keypoints), d));
    }
    return out;
  }

  /** Analyse one face given its tight landmark-box estimate {@code (x0, y0, x1, y1)}. */
  public Face analyzeBox(RgbImage image, float[] faceBox, Detection detection) {
    return analyzeBox(image, faceBox, detection, detection == null ? 1f : detection.score);
  }

  /** As above, with the score to report (e.g. the previous frame's when tracking). */
  public Face analyzeBox(RgbImage image, float[] faceBox, Detection detection, float score) {
    int s = model.inputSize();
    CropTransform crop = CropTransform.fromBox(faceBox, s);
    float[] buf = CROP.get();
    if (buf.length != s * s * 3) {
      buf = new float[s * s * 3];
      CROP.set(buf);
    }
    FaceCrop.crop(image, crop, buf);
    ModelOutputs out = model.run(buf);
    return assemble(detection, score, faceBox, crop, out, decode);
  }

  /** The post-processing alone (decoding, back-projection, pose, visibility). */
  public static Face assemble(
      Detection detection, float score, float[] faceBox, CropTransform crop, ModelOutputs out,
      DecodeSettings decode) {
    double stride = (double) crop.size / out.gridW;
    HeatmapDecoder.Result dec =
        HeatmapDecoder.decode(
            out.heatmaps, out.gridH, out.gridW, out.numLandmarks, stride, decode.rule, decode.sigma);
    float[] vis =
        Visibility.atLandmarks(
            out.occlusion, out.gridH, out.gridW, out.occlusionChannels, VISIBLE_CHANNEL, dec.points, stride);
    float[] scores = new float[dec.scores.length];
    for (int i = 0; i < vis.length; i++) {
      vis[i] = Math.min(Math.max(vis[i], 0f), 1f);
      scores[i] = Math.max(dec.scores[i] / decode.heatmapScale, 0f);
    }
    float[][] pts = crop.toImage(dec.points);
    float[] mask =
        Visibility.visiblePlane(out.occlusion, out.gridH, out.gridW, out.occlusionChannels, VISIBLE_CHANNEL);
    return new Face(
        detection, score, faceBox, crop, pts, scores, vis, out.rotation(), out.euler(), mask,
        out.gridH, out.gridW, stride);
  }
}
