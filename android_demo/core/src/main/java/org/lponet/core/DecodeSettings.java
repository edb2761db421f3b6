package org.lponet.core;

/**
 * How a model's heatmaps are decoded, the Java side of Python's
 * {@code lponet_tf.codec.decode.DecodeSettings}: the rule ({@link HeatmapDecoder.Rule}), the
 * heatmap scale omega (a peak of omega is a fully confident landmark: landmark scores are
 * peaks / omega) and the training targets' sigma (DARK's smoothing). The app reads them from
 * the asset sidecar, where tools/export_assets.py wrote what Python resolves from the model's
 * metadata.
 */
public final class DecodeSettings {
  public final HeatmapDecoder.Rule rule;
  public final float heatmapScale;
  public final double sigma;

  /** Python's defaults: DARK, omega 60, sigma 1. */
  public static final DecodeSettings DEFAULT =
      new DecodeSettings(HeatmapDecoder.Rule.DARK, 60f, HeatmapDecoder.SIGMA);

  public DecodeSettings(HeatmapDecoder.Rule rule, float heatmapScale, double sigma) {
    if (rule == null || !(heatmapScale > 0) || !(sigma > 0)) {
      throw new IllegalArgumentException(
          "decode settings need a rule, heatmap scale > 0 and sigma > 0, got " + rule + ", "
              + heatmapScale + ", " + sigma);
    }
    this.rule = rule;
    this.heatmapScale = heatmapScale;
    this.sigma = sigma;
  }

  /** From Python's names: {@code decoder} "dark" or "top2". */
  public static DecodeSettings of(String decoder, double heatmapScale, double sigma) {
    HeatmapDecoder.Rule rule;
    switch (decoder) {
      case "dark":
        rule = HeatmapDecoder.Rule.DARK;
        break;
      case "top2":
        rule = HeatmapDecoder.Rule.TOP2;
        break;
      default:
        throw new IllegalArgumentException(
            "decoder '" + decoder + "' is not implemented here (dark, top2)");
    }
    return new DecodeSettings(rule, (float) heatmapScale, sigma);
  }
}
