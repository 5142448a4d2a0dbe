<?php
header('Location: /hello.php');  // PHP turns this into a 302
