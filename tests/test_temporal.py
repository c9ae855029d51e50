"""The temporal lifter: windows, causality, gaps, resampling, streaming, the noise it trains on, its training."""
import json

import numpy as np
import pytest
import torch

import checkpoints as ckpt
import detector_noise as dn
import mocap
import model_input as mi
import sequences as seq
import train_temporal
from infer_lifting import TemporalTrack, lift_sequence
import skeleton_utils as sk
from model import MirrorAveraged, SequenceLifter, TemporalLifter, WindowLifter
from tests.bvh_fixtures import write_cmu_clip

TINY = {"frame_config": {"dim": 16, "depth": 1, "heads": 2}, "radius": 3, "dim": 16, "depth": 2, "heads": 2}


def tiny_lifter(seed: int = 0) -> SequenceLifter:
    """A small temporal model whose correction head is not zero, so its window shows in the output."""
    torch.manual_seed(seed)
    model = TemporalLifter(**TINY)
    torch.nn.init.normal_(model.head.weight, std=0.05)
    stats = torch.stack([torch.zeros(28, 2), torch.ones(28, 2)])
    return SequenceLifter(model, stats).eval()


def frames(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 28, 3) pixel joints moving smoothly, all seen."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(400, 600, (28, 2))
    t = np.arange(n)[:, None, None]
    xy = base + 20 * np.sin(0.2 * t + rng.uniform(0, 6, (28, 2)))
    return torch.as_tensor(np.concatenate([xy, np.ones((n, 28, 1))], -1), dtype=torch.float32)


@torch.no_grad()
def test_the_causal_model_never_reads_the_future_and_offline_sees_exactly_its_window():
    lifter = tiny_lifter()
    x, found = frames(20)[None], torch.ones(1, 20, dtype=torch.bool)
    changed = x.clone()
    changed[:, 11, 7, :2] += 50.0  # one joint: a translation of the whole pose is normalised away
    causal, causal_changed = lifter(x, found, causal=True), lifter(changed, found, causal=True)
    assert torch.equal(causal[:, :11], causal_changed[:, :11])  # frame 11 changed: nothing before it moves
    assert not torch.allclose(causal[:, 11:15], causal_changed[:, 11:15])  # it and the radius after it do
    assert torch.equal(causal[:, 15:], causal_changed[:, 15:])
    offline, offline_changed = lifter(x, found), lifter(changed, found)
    moved = (offline - offline_changed).abs().amax(dim=(0, 2, 3)) > 0
    assert moved.nonzero().flatten().tolist() == list(range(11 - 3, 11 + 4))  # the radius each side


@torch.no_grad()
def test_a_frame_without_a_person_and_the_clip_edges_are_masked_not_used():
    lifter = tiny_lifter()
    x = frames(12)[None]
    found = torch.ones(1, 12, dtype=torch.bool)
    found[0, 5] = False
    garbage = x.clone()
    garbage[:, 5] = torch.randn(28, 3) * 1e4  # what a missing frame holds does not matter
    kept = torch.arange(12) != 5
    assert torch.allclose(lifter(x, found)[:, kept], lifter(garbage, found)[:, kept], rtol=1e-5, atol=1e-3)
    # At an edge the window is cut, not padded with copies: a clip equals its part of a longer one,
    # wherever the longer one's extra frames are out of every window's reach.
    longer = torch.cat([x, frames(12, seed=1)[None]], dim=1)
    assert torch.allclose(lifter(longer, torch.ones(1, 24, dtype=torch.bool))[:, :9],
                          lifter(x, torch.ones(1, 12, dtype=torch.bool))[:, :9], rtol=1e-5, atol=1e-3)


@torch.no_grad()
def test_windows_gathered_per_frame_and_a_stream_give_the_whole_sequence_result():
    lifter = tiny_lifter()
    x = frames(40)
    found = torch.ones(40, dtype=torch.bool)
    found[17] = False
    for causal in (False, True):
        whole = lifter(x[None], found[None], causal)[0][found]
        assert torch.allclose(torch.as_tensor(lift_sequence(lifter, x.numpy(), found.numpy(), 25.0, causal),
                                              dtype=torch.float32)[found], whole, rtol=1e-5, atol=1e-3)
        track, streamed = TemporalTrack(lifter, causal), []
        for k, frame in enumerate(x):
            ready = track.push(k / 25.0, frame.numpy() if found[k] else None)
            assert (len(ready) == 1) if causal else (track.held <= lifter.radius + 1)  # causal: no delay
            streamed += ready
        streamed += track.finish()
        assert [n for n, _ in streamed] == list(range(40)) and streamed[17][1] is None
        assert len(track.times) <= 2 * lifter.radius + 2  # the stream keeps only what windows can reach
        got = torch.as_tensor(np.stack([pose for _, pose in streamed if pose is not None]), dtype=torch.float32)
        assert torch.allclose(got, whole, rtol=1e-5, atol=1e-3)
    # The export's window: the centre frame's 3D from 2 x radius + 1 frames.
    window = WindowLifter(lifter, causal=False)
    assert torch.allclose(window(x[None, 10:17], found[None, 10:17])[0], lifter(x[None], found[None])[0, 13],
                          rtol=1e-5, atol=1e-3)


@torch.no_grad()
def test_test_time_flip_averages_with_the_mirrored_video_streams_alike_and_stays_causal():
    lifter = tiny_lifter()
    x = frames(30)
    found = torch.ones(30, dtype=torch.bool)
    found[9] = False
    flipped = MirrorAveraged(lifter)
    for causal in (False, True):
        plain = lift_sequence(lifter, x.numpy(), found.numpy(), 25.0, causal)
        mirrored = lift_sequence(lifter, sk.flip_pose(x.numpy()), found.numpy(), 25.0, causal)
        averaged = lift_sequence(flipped, x.numpy(), found.numpy(), 25.0, causal)
        np.testing.assert_allclose(averaged[found], 0.5 * (plain + sk.flip_pose(mirrored))[found], rtol=1e-5, atol=1e-3)
        assert np.abs(averaged - plain)[found].max() > 0.01  # the mirrored lift is not the same
        track, streamed = TemporalTrack(flipped, causal), []
        for k, frame in enumerate(x):
            streamed += track.push(k / 25.0, frame.numpy() if found[k] else None)
        streamed += track.finish()
        got = np.stack([pose for n, pose in streamed if found[n]])
        np.testing.assert_allclose(got, averaged[found], rtol=1e-5, atol=1e-3)
    changed = x.clone()
    changed[20:, 7, :2] += 50.0
    before = lift_sequence(flipped, changed.numpy(), found.numpy(), 25.0, causal=True)
    np.testing.assert_array_equal(before[:20], averaged[:20])  # the future is not read, mirrored or not


def test_runs_split_at_gaps_and_refuse_two_poses_in_one_frame():
    arrays = {"sequence": np.array([0, 0, 0, 0, 1, 1]), "camera": np.array([0, 0, 0, 0, 0, 1]),
              "frame": np.array([3, 0, 1, 4, 0, 0])}
    assert [r.tolist() for r in seq.runs(arrays)] == [[1, 2], [0, 3], [4], [5]]
    arrays["frame"][3] = 3
    with pytest.raises(ValueError, match="two poses at frame 3"):
        seq.runs(arrays)


def test_resampling_a_60_fps_sequence_shows_the_model_the_25_fps_motion():
    t60 = np.arange(61) / 60.0
    linear = np.stack([100 * t60, -50 * t60], axis=1)
    at25 = seq.resample(linear, 60.0)
    assert len(at25) == 26 and np.allclose(at25, np.stack([100, -50]) * (np.arange(26) / 25.0)[:, None])
    # The 3D of a 60 fps video at the instants both rates share (every 0.2 s) is the 25 fps video's 3D.
    lifter = tiny_lifter()
    start, end = frames(1, seed=0)[0].numpy(), frames(1, seed=1)[0].numpy()
    video = lambda fps: start + (end - start) * (np.arange(int(2 * fps) + 1) / fps / 2)[:, None, None]
    v60, v25 = video(60.0), video(25.0)
    v60[..., 2], v25[..., 2] = 1.0, 1.0
    out60 = lift_sequence(lifter, v60, np.ones(len(v60), bool), 60.0)
    out25 = lift_sequence(lifter, v25, np.ones(len(v25), bool), 25.0)
    # Each model instant takes the nearest 60 fps frame, at most 1/120 s away, about a fifth of a model frame:
    difference = np.abs(out60[::12] - out25[::5]).max()
    assert difference < 0.3 * np.abs(np.diff(out25, axis=0)).max()
    # while reading the 60 fps frames as model frames (a window of 0.45 s instead of 1.08 s) would not be.
    naive = lift_sequence(lifter, v60, np.ones(len(v60), bool), 25.0)
    assert np.abs(naive[::12] - out25[::5]).max() > 10 * difference
    causal60 = lift_sequence(lifter, v60, np.ones(len(v60), bool), 60.0, causal=True)
    changed = v60.copy()
    changed[30:, :, :2] += 40.0
    assert np.array_equal(lift_sequence(lifter, changed, np.ones(len(v60), bool), 60.0, causal=True)[:30],
                          causal60[:30])


def test_the_noise_model_drifts_jitters_and_loses_joints_as_measured():
    observed = torch.zeros(64, 200, 17, 3)
    observed[..., 2] = 1.0
    mm_per_px = torch.full((64, 200), 2.0)  # 2 mm at the body per pixel
    generator = torch.Generator().manual_seed(0)
    noisy, found = dn.add_sequence_noise(observed, mm_per_px, generator=generator)
    model = dn.MEASURED
    seen = noisy[..., 2] > 0
    assert found.all() and abs(float(1 - seen.float().mean()) - model.unseen_rate) < 0.03
    xy = noisy[..., :2][seen] * 2.0  # back to mm
    expected = (model.drift_mm ** 2 + model.jitter_mm ** 2) ** 0.5
    assert abs(float(xy.std()) - expected) < 0.1 * expected
    step = (noisy[:, 1:, :, :2] - noisy[:, :-1, :, :2])[seen[:, 1:] & seen[:, :-1]] * 2.0
    a = np.exp(-1 / model.drift_frames)
    assert abs(float(step.std()) - np.sqrt(2 * (1 - a) * model.drift_mm ** 2 + 2 * model.jitter_mm ** 2)) < 0.5
    lost = noisy[..., :2][~seen] * 2.0
    assert abs(float(lost.std()) - model.unseen_jump_mm) < 0.1 * model.unseen_jump_mm


def test_mediapipe_on_a_filmed_still_jumps_far_more_at_joints_it_barely_sees():
    import cv2
    from matplotlib import cbook

    image = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    figures = dn.measure(image, frames=40)
    assert figures["found"] == 40 and figures["well_seen_joints"] >= 3 and figures["low_visibility_joints"] >= 6
    assert figures["jitter_mm"] < 2.0 < figures["unseen_jump_mm"]


def test_mocap_films_sequences_with_a_static_camera_at_the_asked_rate(tmp_path):
    clip = write_cmu_clip(tmp_path / "walk.bvh", frames=240)  # 2 s at 120 fps
    arrays = mocap.import_clips([str(clip)], fps=25.0, views=2, sequences=True, validation=(), say=lambda *_: None)
    assert float(arrays["fps"]) == 25.0
    for view in (0, 1):
        rows = arrays["camera"] == view
        assert (np.diff(arrays["frame"][rows]) == 1).all() and rows.sum() == 50
        assert (arrays["intrinsics"][rows] == arrays["intrinsics"][rows][0]).all()  # one camera per view
    # The motion keeps its path: the pelvis moves in the camera as the clip's root walks.
    pelvis = arrays["pose3d"][arrays["camera"] == 0][:, 4]
    assert np.linalg.norm(pelvis[-1] - pelvis[0]) > 500  # the fixture walks ~1 m (100 cm along z)


def test_training_the_temporal_model_writes_weights_that_lift_sequences(tmp_path):
    clips = [write_cmu_clip(tmp_path / f"clip{k}.bvh", frames=180, seed=k) for k in range(3)]
    arrays = mocap.import_clips([str(c) for c in clips], fps=25.0, views=2, sequences=True,
                                validation=("clip2.bvh",), say=lambda *_: None)
    np.savez(tmp_path / "seq.npz", **arrays)
    frame_weights = tmp_path / "frame.pth"
    frame = TemporalLifter(**TINY).frame_model
    ckpt.save_checkpoint(str(frame_weights), frame, "gcn_transformer", TINY["frame_config"], "mediapipe",
                         torch.stack([torch.zeros(28, 2), torch.ones(28, 2)]))
    out = tmp_path / "run"
    out.mkdir()
    assert train_temporal.main(["--data", str(tmp_path / "seq.npz"), "--frame-weights", str(frame_weights),
                                "--out", str(out), "--steps", "4", "--eval-every", "2", "--batch", "2",
                                "--chunk", "16", "--radius", "3", "--dim", "16", "--depth", "1", "--heads", "2"]) == 0
    lifter, checkpoint = ckpt.load_sequence_lifter(str(out / train_temporal.TEMPORAL_WEIGHTS))
    assert checkpoint["arch"] == "temporal" and lifter.radius == 3
    # The frame model inside is the one it was given, frozen.
    assert torch.equal(lifter.model.frame_model.embed.weight, frame.embed.weight)
    assert len(json.loads((out / "temporal_log.json").read_text())) == 2
    with pytest.raises(ckpt.CheckpointError, match="not a temporal one"):
        ckpt.load_sequence_lifter(str(frame_weights))
    assert train_temporal.main(["--data", str(tmp_path / "seq.npz"), "--frame-weights", str(frame_weights),
                                "--out", str(out), "--steps", "1"]) == 2  # the weights are there: no --force
    # Fine-tuning that model, its per-frame model too (at a tenth of the rate): a new run starts from it.
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    assert train_temporal.main(["--data", str(tmp_path / "seq.npz"), "--init", str(out / train_temporal.TEMPORAL_WEIGHTS),
                                "--tune-encoder", "0.1", "--out", str(tuned), "--steps", "4", "--eval-every", "4",
                                "--batch", "2", "--chunk", "16", "--causal-share", "0.75", "--clean-share", "0.5"]) == 0
    again, checkpoint = ckpt.load_sequence_lifter(str(tuned / train_temporal.TEMPORAL_WEIGHTS))
    assert again.radius == 3 and checkpoint["tune_encoder"] == 0.1 and checkpoint["causal_share"] == 0.75
    assert checkpoint["clean_share"] == 0.5
    assert not torch.equal(again.model.frame_model.embed.weight, frame.embed.weight)


def test_a_temporal_model_is_rebuilt_on_a_retrained_per_frame_model_of_the_same_network():
    lifter, stats = tiny_lifter(), torch.stack([torch.zeros(28, 2), torch.ones(28, 2)])
    retrained = TemporalLifter(**TINY).frame_model  # other weights of the same network
    train_temporal.replace_encoder(lifter, retrained, {"norm_stats": stats}, "retrained.pth")
    assert all(torch.equal(a, b) for a, b in zip(lifter.model.frame_model.state_dict().values(),
                                                 retrained.state_dict().values()))
    wider = TemporalLifter(frame_config={"dim": 32, "depth": 1, "heads": 2}).frame_model
    with pytest.raises(ValueError, match="retrained.pth: its network is not the temporal model's per-frame model"):
        train_temporal.replace_encoder(lifter, wider, {"norm_stats": stats}, "retrained.pth")
    with pytest.raises(ValueError, match="its input normalisation differs"):
        train_temporal.replace_encoder(lifter, retrained, {"norm_stats": 2 * stats + 1}, "retrained.pth")


def test_the_velocity_weight_scales_the_velocity_error_in_the_loss():
    target = frames(6)[None, ..., :3] * 1.0
    pred = target + torch.randn(target.shape, generator=torch.Generator().manual_seed(0))
    found = torch.ones(1, 6, dtype=torch.bool)
    still = train_temporal.sequence_loss(pred, target, found, velocity_weight=0.0)
    one, three = (train_temporal.sequence_loss(pred, target, found, velocity_weight=w) for w in (1.0, 3.0))
    assert one > still and torch.isclose(three - still, 3 * (one - still))
    assert torch.isclose(train_temporal.sequence_loss(pred, target, found), one)  # the default weight is 1


def test_the_causal_share_spreads_the_causal_steps_evenly_and_must_be_a_share(tmp_path, capsys):
    assert [train_temporal.is_causal_step(s, 0.5) for s in range(1, 7)] == [True, False] * 3  # every odd step
    assert [train_temporal.is_causal_step(s, 0.75) for s in range(1, 9)] == [True, True, True, False] * 2
    assert sum(train_temporal.is_causal_step(s, 0.3) for s in range(1, 1001)) == 300
    assert not any(train_temporal.is_causal_step(s, 0.0) for s in range(1, 50))
    assert all(train_temporal.is_causal_step(s, 1.0) for s in range(1, 50))
    assert train_temporal.main(["--data", str(tmp_path / "absent.npz"), "--out", str(tmp_path),
                                "--causal-share", "1.5"]) == 2
    assert "--causal-share 1.5 is not a share" in capsys.readouterr().err
    assert train_temporal.main(["--data", str(tmp_path / "absent.npz"), "--out", str(tmp_path),
                                "--clean-share", "-0.1"]) == 2
    assert "--clean-share -0.1 is not a share" in capsys.readouterr().err


def test_the_clean_share_trains_on_exact_2d_and_leaves_the_other_steps_noisy():
    pose2d = frames(8)[None, ..., :2].expand(4, 8, 28, 2).clone()
    batch = {"pose2d": pose2d, "pose3d": torch.zeros(4, 8, 28, 3), "mm_per_px": torch.full((4, 8), 3.0),
             "present": torch.ones(4, 8, dtype=torch.bool)}
    batch["present"][:, 6:] = False  # past a run's end
    exact = mi.complete_joints(mi.observed_joints(pose2d, "mediapipe"), "mediapipe")
    clean = [train_temporal.training_input(batch, "mediapipe", np.random.default_rng(k), clean_share=1.0)
             for k in range(6)]
    assert all(torch.equal(found, batch["present"]) for _, found, _ in clean)
    flipped = mi.complete_joints(mi.observed_joints(sk.flip_pose(pose2d), "mediapipe"), "mediapipe")
    assert all(torch.equal(x, exact) or torch.equal(x, flipped) for x, _, _ in clean)  # exact, mirrored or not
    noisy = [train_temporal.training_input(batch, "mediapipe", np.random.default_rng(k)) for k in range(6)]
    assert not any(torch.equal(x, exact) or torch.equal(x, flipped) for x, _, _ in noisy)
