import pytest

from simulators.__main__ import main


def test_cli_documents_its_options(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "--seed" in out
