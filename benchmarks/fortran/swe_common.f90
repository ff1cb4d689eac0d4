!> Kind-independent parts of the Fortran+MPI shallow-water baseline: the
!> command line and problem.nml of benchmarks/PROTOCOL.md, the process grid
!> of parallel/decomposition.py, reading this rank's tile of initial.bin,
!> error exits and the peak resident set size.
!>
!> Errors that every rank detects alike (arguments, problem.nml, process
!> grid, input file) end with `fail`: rank 0 writes one line on stderr
!> starting with the program name, all ranks finalize MPI and stop with exit
!> status 2. No rank ever waits for another that has already given up.
module swe_common
  use, intrinsic :: iso_fortran_env, only: real64, int64, error_unit, output_unit
  use, intrinsic :: iso_c_binding, only: c_int, c_long
  use mpi_f08
  implicit none
  private

  public :: problem_t, options_t, tile_t, prog_name
  public :: fail, parse_args, read_problem, make_tile, tile_extent, read_tile, peak_rss_mib
  public :: print_json
  public :: BC_PERIODIC, BC_WALL, BC_OPEN, NO_RANK, HALO

  character(len=*), parameter :: prog_name = 'swe_mpi'
  integer, parameter :: BC_PERIODIC = 0, BC_WALL = 1, BC_OPEN = 2
  integer, parameter :: NO_RANK = -1
  !> Ghost cells per side needed by MUSCL (stencil i-1..i+1 for the n+2
  !> cells whose faces the Riemann solver sees).
  integer, parameter :: HALO = 2

  !> The problem of problem.nml (SI units: m, s).
  type :: problem_t
    integer :: nx = -1, ny = -1
    real(real64) :: dx = 0, dy = 0, y0 = 0, ly = 0, g = 0
    real(real64) :: f0 = 0, beta = 0, drag_linear = 0, drag_quadratic = 0
    real(real64) :: dry_tolerance = 0, dt = 0
    integer :: bc(4) = -1            !< west, east, south, north (BC_*)
  end type problem_t

  !> Command-line options of PROTOCOL.md.
  type :: options_t
    character(len=:), allocatable :: problem_dir, final_file, precision
    integer :: procs(2) = 0
    integer :: steps = -1, warmup = 2, repeats = 3
  end type options_t

  !> This rank's tile and its neighbours (parallel/decomposition.py).
  type :: tile_t
    integer :: rank = 0, nranks = 1
    integer :: procs(2) = 1          !< PX, PY
    integer :: coords(2) = 0         !< px, py (0-based)
    integer :: nx = 0, ny = 0        !< local interior cells
    integer :: i0 = 0, j0 = 0        !< global 0-based offset of the first cell
    integer :: nbr(4) = NO_RANK      !< west, east, south, north rank or NO_RANK
    integer :: bc(4) = -1            !< physical kind on each side
    type(MPI_Comm) :: comm
  end type tile_t

  type, bind(c) :: rusage_t
    integer(c_long) :: utime(2), stime(2), maxrss, rest(13)
  end type rusage_t

  interface
    function c_getrusage(who, usage) bind(c, name='getrusage') result(rc)
      import :: c_int, rusage_t
      integer(c_int), value :: who
      type(rusage_t), intent(out) :: usage
      integer(c_int) :: rc
    end function c_getrusage
  end interface

contains

  !> Collective error exit: one line from rank 0 on stderr, exit status 2.
  subroutine fail(msg)
    character(len=*), intent(in) :: msg
    integer :: rank, ierr
    logical :: up
    call MPI_Initialized(up, ierr)
    rank = 0
    if (up) call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
    if (rank == 0) write(error_unit, '(a)') prog_name // ': ' // trim(msg)
    flush(error_unit)
    if (up) call MPI_Finalize(ierr)
    stop 2, quiet=.true.
  end subroutine fail

  !> One error flag per rank, combined: fail on every rank if any rank failed.
  subroutine fail_if_any(bad, msg)
    logical, intent(in) :: bad
    character(len=*), intent(in) :: msg
    logical :: any_bad
    integer :: ierr
    call MPI_Allreduce(bad, any_bad, 1, MPI_LOGICAL, MPI_LOR, MPI_COMM_WORLD, ierr)
    if (any_bad) call fail(msg)
  end subroutine fail_if_any

  function itoa(i) result(s)
    integer, intent(in) :: i
    character(len=:), allocatable :: s
    character(len=32) :: buf
    write(buf, '(i0)') i
    s = trim(buf)
  end function itoa

  subroutine get_arg(k, arg)
    integer, intent(in) :: k
    character(len=:), allocatable, intent(out) :: arg
    integer :: n
    call get_command_argument(k, length=n)
    allocate(character(len=n) :: arg)
    if (n > 0) call get_command_argument(k, arg)
  end subroutine get_arg

  !> A non-negative (or positive, when minimum = 1) integer argument value.
  integer function int_value(text, name, minimum) result(v)
    character(len=*), intent(in) :: text, name
    integer, intent(in) :: minimum
    integer :: ios
    v = -1
    if (verify(trim(text), '0123456789') /= 0 .or. len_trim(text) == 0 &
        .or. len_trim(text) > 9) then
      ios = 1
    else
      read(text, *, iostat=ios) v
    end if
    if (ios /= 0 .or. v < minimum) &
      call fail('option ' // name // ': expected an integer >= ' // itoa(minimum) &
                // ', got ''' // text // '''')
  end function int_value

  !> PROBLEM_DIR --procs PX PY --steps S [--warmup W] [--repeats R]
  !> [--final FILE] [--precision float64|float32]
  subroutine parse_args(opt)
    type(options_t), intent(out) :: opt
    character(len=:), allocatable :: arg, val, val2
    integer :: k, nargs
    character(len=*), parameter :: usage = 'usage: swe_mpi PROBLEM_DIR --procs PX PY' &
      // ' --steps S [--warmup W] [--repeats R] [--final FILE] [--precision float64|float32]'

    opt%precision = 'float64'
    nargs = command_argument_count()
    k = 1
    do while (k <= nargs)
      call get_arg(k, arg)
      select case (arg)
      case ('-h', '--help')
        call fail(usage)
      case ('--procs')
        if (k + 2 > nargs) call fail('option --procs needs two integers PX PY; ' // usage)
        call get_arg(k + 1, val)
        call get_arg(k + 2, val2)
        opt%procs(1) = int_value(val, '--procs', 1)
        opt%procs(2) = int_value(val2, '--procs', 1)
        k = k + 3
        cycle
      case ('--steps', '--warmup', '--repeats', '--final', '--precision')
        if (k + 1 > nargs) call fail('option ' // arg // ' needs a value; ' // usage)
        call get_arg(k + 1, val)
        select case (arg)
        case ('--steps');   opt%steps = int_value(val, arg, 0)
        case ('--warmup');  opt%warmup = int_value(val, arg, 0)
        case ('--repeats'); opt%repeats = int_value(val, arg, 1)
        case ('--final')
          if (len(val) == 0) call fail('option --final needs a file name')
          opt%final_file = val
        case ('--precision')
          if (val /= 'float64' .and. val /= 'float32') &
            call fail('option --precision: unknown value ''' // val // '''; valid: float64, float32')
          opt%precision = val
        end select
        k = k + 2
        cycle
      case default
        if (len(arg) > 0) then
          if (arg(1:1) == '-') call fail('unknown option ''' // arg // '''; ' // usage)
        end if
        if (allocated(opt%problem_dir)) &
          call fail('unexpected argument ''' // arg // '''; ' // usage)
        opt%problem_dir = arg
      end select
      k = k + 1
    end do
    if (.not. allocated(opt%problem_dir)) call fail('missing PROBLEM_DIR; ' // usage)
    if (opt%procs(1) == 0) call fail('missing --procs PX PY; ' // usage)
    if (opt%steps < 0) call fail('missing --steps S; ' // usage)
  end subroutine parse_args

  !> Read PROBLEM_DIR/problem.nml. A line-oriented reader of the `&problem`
  !> group as benchmarks/problem.py writes it (`key = value`, strings in
  !> single quotes), rather than a namelist READ, so that keys this baseline
  !> does not need (documentation, other schemes' settings) are ignored
  !> instead of aborting the read; every key it needs must be present.
  subroutine read_problem(dir, p)
    character(len=*), intent(in) :: dir
    type(problem_t), intent(out) :: p
    character(len=:), allocatable :: path, key, val
    character(len=4096) :: line
    integer :: unit, ios, eq, k
    logical :: exists, in_group, done
    character(len=16), parameter :: required(18) = [character(len=16) :: &
      'nx', 'ny', 'dx', 'dy', 'y0', 'ly', 'g', 'f0', 'beta', 'drag_linear', &
      'drag_quadratic', 'dry_tolerance', 'dt', 'limiter', 'riemann', 'time_stepper', &
      'bc_west', 'bc_east']
    logical :: seen(20)
    character(len=16), parameter :: sides(4) = [character(len=16) :: &
      'bc_west', 'bc_east', 'bc_south', 'bc_north']

    path = dir // '/problem.nml'
    inquire(file=path, exist=exists)
    if (.not. exists) call fail('problem file ''' // path // ''' not found')
    open(newunit=unit, file=path, status='old', action='read', iostat=ios)
    if (ios /= 0) call fail('cannot open ''' // path // '''')
    seen = .false.
    in_group = .false.
    done = .false.
    do while (.not. done)
      read(unit, '(a)', iostat=ios) line
      if (ios /= 0) exit
      k = index(line, '!')
      if (k > 0) line(k:) = ' '
      line = adjustl(line)
      if (len_trim(line) == 0) cycle
      if (.not. in_group) then
        if (lower(line(1:8)) == '&problem') then
          in_group = .true.
          line = adjustl(line(9:))
          if (len_trim(line) == 0) cycle
        else
          cycle
        end if
      end if
      if (line(1:1) == '/') exit
      k = len_trim(line)
      if (line(k:k) == '/') then
        done = .true.
        line(k:k) = ' '
      end if
      k = len_trim(line)
      if (k > 0) then
        if (line(k:k) == ',') line(k:k) = ' '
      end if
      if (len_trim(line) == 0) cycle
      eq = index(line, '=')
      if (eq == 0) call fail('problem.nml: expected ''key = value'', got ''' // trim(line) // '''')
      key = lower(trim(adjustl(line(:eq - 1))))
      val = trim(adjustl(line(eq + 1:)))
      call set_key(key, val)
    end do
    close(unit)
    if (.not. in_group) call fail('problem.nml: no &problem group in ''' // path // '''')
    do k = 1, size(required)
      if (.not. seen(k)) call fail('problem.nml: missing key ''' // trim(required(k)) // '''')
    end do
    if (.not. (seen(19) .and. seen(20))) call fail('problem.nml: missing key ''bc_south''/''bc_north''')
    if (p%nx < 1 .or. p%ny < 1) call fail('problem.nml: nx and ny must be >= 1')
    if (.not. (p%dx > 0 .and. p%dy > 0 .and. p%ly > 0 .and. p%g > 0 .and. p%dt > 0 &
               .and. p%dry_tolerance > 0)) &
      call fail('problem.nml: dx, dy, ly, g, dt and dry_tolerance must be > 0')
    if ((p%bc(1) == BC_PERIODIC) .neqv. (p%bc(2) == BC_PERIODIC)) &
      call fail('problem.nml: bc_west/bc_east: periodic must be set on both sides')
    if ((p%bc(3) == BC_PERIODIC) .neqv. (p%bc(4) == BC_PERIODIC)) &
      call fail('problem.nml: bc_south/bc_north: periodic must be set on both sides')

  contains

    subroutine set_key(key, val)
      character(len=*), intent(in) :: key, val
      integer :: n, s
      select case (key)
      case ('nx');             call read_int(val, p%nx);  seen(1) = .true.
      case ('ny');             call read_int(val, p%ny);  seen(2) = .true.
      case ('dx');             call read_real(val, p%dx); seen(3) = .true.
      case ('dy');             call read_real(val, p%dy); seen(4) = .true.
      case ('y0');             call read_real(val, p%y0); seen(5) = .true.
      case ('ly');             call read_real(val, p%ly); seen(6) = .true.
      case ('g');              call read_real(val, p%g);  seen(7) = .true.
      case ('f0');             call read_real(val, p%f0); seen(8) = .true.
      case ('beta');           call read_real(val, p%beta); seen(9) = .true.
      case ('drag_linear');    call read_real(val, p%drag_linear); seen(10) = .true.
      case ('drag_quadratic'); call read_real(val, p%drag_quadratic); seen(11) = .true.
      case ('dry_tolerance');  call read_real(val, p%dry_tolerance); seen(12) = .true.
      case ('dt');             call read_real(val, p%dt); seen(13) = .true.
      case ('limiter')
        if (unquote(val) /= 'mc') call fail('problem.nml: limiter ''' // unquote(val) &
          // ''' is not implemented by this baseline (only ''mc'')')
        seen(14) = .true.
      case ('riemann')
        if (unquote(val) /= 'hllc') call fail('problem.nml: riemann ''' // unquote(val) &
          // ''' is not implemented by this baseline (only ''hllc'')')
        seen(15) = .true.
      case ('time_stepper')
        if (unquote(val) /= 'ssp_rk3') call fail('problem.nml: time_stepper ''' // unquote(val) &
          // ''' is not implemented by this baseline (only ''ssp_rk3'')')
        seen(16) = .true.
      case ('bc_west', 'bc_east', 'bc_south', 'bc_north')
        s = findloc(sides, key, dim=1)
        select case (unquote(val))
        case ('periodic'); p%bc(s) = BC_PERIODIC
        case ('wall');     p%bc(s) = BC_WALL
        case ('open');     p%bc(s) = BC_OPEN
        case default
          call fail('problem.nml: ' // key // ': unknown value ''' // unquote(val) &
                    // '''; valid: periodic, wall, open')
        end select
        n = 16 + s
        seen(n) = .true.
      case ('scheme')
        if (unquote(val) /= 'muscl') call fail('problem.nml: scheme ''' // unquote(val) &
          // ''' is not implemented by this baseline (only ''muscl'')')
      case default
        continue   ! a key this baseline does not use
      end select
    end subroutine set_key

    subroutine read_int(text, v)
      character(len=*), intent(in) :: text
      integer, intent(out) :: v
      integer :: ios
      read(text, *, iostat=ios) v
      if (ios /= 0) call fail('problem.nml: ' // key // ': not an integer: ''' // text // '''')
    end subroutine read_int

    subroutine read_real(text, v)
      character(len=*), intent(in) :: text
      real(real64), intent(out) :: v
      integer :: ios
      read(text, *, iostat=ios) v
      if (ios /= 0) call fail('problem.nml: ' // key // ': not a number: ''' // text // '''')
      if (v /= v .or. abs(v) > huge(v)) &
        call fail('problem.nml: ' // key // ': not a finite number: ''' // text // '''')
    end subroutine read_real

  end subroutine read_problem

  function unquote(text) result(s)
    character(len=*), intent(in) :: text
    character(len=:), allocatable :: s
    integer :: n
    s = trim(adjustl(text))
    n = len(s)
    if (n >= 2) then
      if ((s(1:1) == '''' .and. s(n:n) == '''') .or. (s(1:1) == '"' .and. s(n:n) == '"')) &
        s = s(2:n - 1)
    end if
  end function unquote

  function lower(text) result(s)
    character(len=*), intent(in) :: text
    character(len=len(text)) :: s
    integer :: k
    s = text
    do k = 1, len(s)
      if (s(k:k) >= 'A' .and. s(k:k) <= 'Z') s(k:k) = achar(iachar(s(k:k)) + 32)
    end do
  end function lower

  !> Sizes and offsets of ``parts`` contiguous pieces of n cells, the first
  !> mod(n, parts) one cell larger (parallel/decomposition.py: split).
  subroutine split(n, parts, k, size, offset)
    integer, intent(in) :: n, parts, k
    integer, intent(out) :: size, offset
    integer :: base, extra
    base = n / parts
    extra = mod(n, parts)
    size = base + merge(1, 0, k < extra)
    offset = k * base + min(k, extra)
  end subroutine split

  !> Global 0-based offsets and sizes of the tile of ``rank``.
  subroutine tile_extent(p, procs, rank, i0, j0, nx, ny)
    type(problem_t), intent(in) :: p
    integer, intent(in) :: procs(2), rank
    integer, intent(out) :: i0, j0, nx, ny
    call split(p%nx, procs(1), mod(rank, procs(1)), nx, i0)
    call split(p%ny, procs(2), rank / procs(1), ny, j0)
  end subroutine tile_extent

  !> This rank's tile of the PX x PY process grid; rank = py * PX + px.
  subroutine make_tile(p, procs, t)
    type(problem_t), intent(in) :: p
    integer, intent(in) :: procs(2)
    type(tile_t), intent(out) :: t
    integer :: ierr, px, py, n(2), parts, ax, lo, hi
    logical :: periodic

    t%comm = MPI_COMM_WORLD
    call MPI_Comm_rank(t%comm, t%rank, ierr)
    call MPI_Comm_size(t%comm, t%nranks, ierr)
    if (procs(1) * procs(2) /= t%nranks) &
      call fail('--procs ' // itoa(procs(1)) // ' ' // itoa(procs(2)) // ': a ' &
                // itoa(procs(1)) // 'x' // itoa(procs(2)) // ' process grid needs ' &
                // itoa(procs(1) * procs(2)) // ' MPI ranks but ' // itoa(t%nranks) &
                // ' were started')
    t%procs = procs
    t%bc = p%bc
    px = mod(t%rank, procs(1))
    py = t%rank / procs(1)
    t%coords = [px, py]
    call split(p%nx, procs(1), px, t%nx, t%i0)
    call split(p%ny, procs(2), py, t%ny, t%j0)
    n = [p%nx, p%ny]
    do ax = 1, 2
      parts = procs(ax)
      if (n(ax) / parts < HALO) &
        call fail('--procs: ' // itoa(n(ax)) // ' cells over ' // itoa(parts) // ' ranks along ' &
                  // merge('x', 'y', ax == 1) // ' give tiles narrower than the halo of ' &
                  // itoa(HALO) // ' cells; use fewer ranks or more cells')
      periodic = p%bc(2 * ax - 1) == BC_PERIODIC
      lo = t%coords(ax) - 1
      hi = t%coords(ax) + 1
      if (periodic) then
        lo = modulo(lo, parts)
        hi = modulo(hi, parts)
      end if
      t%nbr(2 * ax - 1) = rank_at(ax, lo)
      t%nbr(2 * ax) = rank_at(ax, hi)
    end do

  contains

    integer function rank_at(ax, c) result(r)
      integer, intent(in) :: ax, c
      if (c < 0 .or. c >= procs(ax)) then
        r = NO_RANK
      else if (ax == 1) then
        r = t%coords(2) * procs(1) + c
      else
        r = c * procs(1) + t%coords(1)
      end if
    end function rank_at

  end subroutine make_tile

  !> This rank's tile of the four fields of PROBLEM_DIR/initial.bin
  !> (little-endian float64, h, hu, hv, b, each (ny, nx) in C order), read
  !> row by row with stream access. Shape of ``q``: (nx_local, ny_local, 4).
  subroutine read_tile(dir, p, t, q)
    character(len=*), intent(in) :: dir
    type(problem_t), intent(in) :: p
    type(tile_t), intent(in) :: t
    real(real64), allocatable, intent(out) :: q(:, :, :)
    character(len=:), allocatable :: path
    integer :: unit, ios, f, j
    integer(int64) :: fsize, pos
    logical :: exists, bad

    path = dir // '/initial.bin'
    inquire(file=path, exist=exists, size=fsize)
    if (.not. exists) call fail('initial condition ''' // path // ''' not found')
    if (fsize /= 32_int64 * p%nx * p%ny) &
      call fail('''' // path // ''' holds ' // itoa(int(fsize)) // ' bytes; nx = ' &
                // itoa(p%nx) // ', ny = ' // itoa(p%ny) // ' need 4*8*nx*ny')
    allocate(q(t%nx, t%ny, 4))
    bad = .false.
    open(newunit=unit, file=path, access='stream', form='unformatted', status='old', &
         action='read', convert='little_endian', iostat=ios)
    if (ios /= 0) then
      bad = .true.
    else
      do f = 1, 4
        do j = 1, t%ny
          pos = 1 + 8_int64 * ((int(f - 1, int64) * p%ny + (t%j0 + j - 1)) * p%nx + t%i0)
          read(unit, pos=pos, iostat=ios) q(:, j, f)
          if (ios /= 0) bad = .true.
        end do
      end do
      close(unit)
    end if
    call fail_if_any(bad, 'cannot read ''' // path // '''')
  end subroutine read_tile

  !> Peak resident set size of this process (MiB), getrusage ru_maxrss (KiB on Linux).
  real(real64) function peak_rss_mib() result(mib)
    type(rusage_t) :: usage
    integer(c_int) :: rc
    rc = c_getrusage(0_c_int, usage)
    mib = real(usage%maxrss, real64) / 1024.0_real64
    if (rc /= 0) mib = -1.0_real64
  end function peak_rss_mib

  !> The JSON line of PROTOCOL.md on stdout (call on rank 0 only).
  subroutine print_json(p, t, opt, seconds, rss)
    type(problem_t), intent(in) :: p
    type(tile_t), intent(in) :: t
    type(options_t), intent(in) :: opt
    real(real64), intent(in) :: seconds(:), rss(:)
    character(len=:), allocatable :: line
    line = '{"impl": "fortran", "ranks": ' // itoa(t%nranks) // ', "procs": [' &
           // itoa(t%procs(1)) // ', ' // itoa(t%procs(2)) // '], "nx": ' // itoa(p%nx) &
           // ', "ny": ' // itoa(p%ny) // ', "precision": "' // opt%precision &
           // '", "steps": ' // itoa(opt%steps) // ', "repeat_seconds": ' // json_list(seconds) &
           // ', "peak_rss_mib": ' // json_list(rss) // '}'
    write(output_unit, '(a)') line
    flush(output_unit)
  end subroutine print_json

  function json_list(x) result(s)
    real(real64), intent(in) :: x(:)
    character(len=:), allocatable :: s
    character(len=40) :: buf
    integer :: k
    s = '['
    do k = 1, size(x)
      write(buf, '(es24.16e3)') x(k)
      s = s // trim(adjustl(buf))
      if (k < size(x)) s = s // ', '
    end do
    s = s // ']'
  end function json_list

end module swe_common
