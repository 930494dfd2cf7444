def test_scheduled_checkpoints_leave_out_a_stop_for_times_checkpoint(tmp_path):
    import json

    from xling.training.checkpoint import scheduled_checkpoints

    for step in (2, 4, 5, 6):  # 5: stopped by training.max_minutes, then resumed to 6
        folder = tmp_path / "checkpoints" / f"step-{step:08d}"
        folder.mkdir(parents=True)
        state = {"step": step, "config": {"training": {"checkpoint_every": 2}}}
        (folder / "trainer_state.json").write_text(json.dumps(state), encoding="utf-8")
    assert [p.name for p in scheduled_checkpoints(tmp_path)] == [
        "step-00000002",
        "step-00000004",
        "step-00000006",
    ]
    assert [p.name for p in scheduled_checkpoints(tmp_path, every=2, end=5)][-1] == "step-00000005"
